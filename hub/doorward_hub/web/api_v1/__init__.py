"""The client API (`/api/v1`): REST and the WebSocket push channel, for Home Assistant."""
