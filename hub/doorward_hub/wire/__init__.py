"""The hub API's wire shapes, each defined once: the hub serializes its answers with them,
validates requests with them, and generates its OpenAPI document from them
(`objects`: what the hub answers, `bodies`: what clients send, `messages`: the WebSocket push)."""
