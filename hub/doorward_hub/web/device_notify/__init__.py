"""The notification URL that doorbells without a lasting connection (DoorBird) call to push
their events. Its own audience: devices, authenticated by the secret in the path, no token."""
