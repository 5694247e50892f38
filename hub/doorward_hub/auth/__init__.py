"""Who may talk to the hub: one-time pairing codes and client tokens."""
