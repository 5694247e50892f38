"""The one path by which footage leaves the hub: grant -> redaction hook -> package -> deliver.

Every export needs a human's grant for that item, carries a manifest signed with the hub's
identity key, and lands in the audit log (DESIGN.md, privacy invariants 2, 4 and 8).
"""
