"""Doorbells: discovery on the LAN, adoption, one link per doorbell, vendor drivers."""
