"""Doorward hub: finds doorbells, stores their events, serves clients over a local API."""

__version__ = "0.1.0"
