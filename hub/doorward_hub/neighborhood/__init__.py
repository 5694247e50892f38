"""Neighborhood groups on Matrix: the group host's commands and the household hub's membership.

A group is a Matrix space with encrypted `feed`, `requests` and `admins` rooms on a homeserver the
neighborhood runs (DESIGN.md, "Neighborhood groups"). Hubs are ordinary Matrix clients
(matrix-nio with vodozemac); Doorward adds only `org.doorward.*` event types (`docs/groups.md`).
"""
