"""The OpenAPI 3.1 document of the hub API, served at `/api/v1/openapi.json`."""

from __future__ import annotations

from typing import Any

from .models import DoorbellStatus, EventType

type Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _jpeg(description: str) -> Schema:
    return {
        "description": description,
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    }


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


_DOORBELL_ID = {"name": "doorbell_id", "in": "path", "required": True, "schema": {"type": "string"}}
_AUTH_ERRORS = {"401": _error("missing, unknown or revoked token")}
_UNKNOWN = {"404": _error("unknown doorbell")}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "HubInfo": {
        "type": "object",
        "required": ["hub_id", "name", "version", "api_version"],
        "properties": {
            "hub_id": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "api_version": {"type": "integer"},
        },
    },
    "Doorbell": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "model": {"type": "string"},
            "driver": {"type": "string"},
            "host": {"type": "string"},
            "port": {"type": "integer"},
            "capabilities": {"type": "array", "items": {"type": "string"}},
            "status": {"enum": [s.value for s in DoorbellStatus]},
            "online": {"type": "boolean"},
            "error": {"type": ["string", "null"]},
            "last_seen": {"type": ["string", "null"], "format": "date-time"},
            "privacy_mode": {"type": "boolean"},
            "firmware": {"type": ["string", "null"]},
        },
    },
    "Event": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer", "description": "the hub's event id, increasing"},
            "doorbell_id": {"type": "string"},
            "type": {"enum": [t.value for t in EventType]},
            "time": {"type": "string", "format": "date-time"},
            "device_time": {"type": ["number", "null"]},
            "presses": {"type": "integer"},
            "has_snapshot": {"type": "boolean"},
        },
    },
    "Token": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "client_name": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "last_used": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}

PATHS: dict[str, Schema] = {
    "/info": {
        "get": {
            "summary": "Hub identity",
            "security": [],
            "responses": {"200": _json(_ref("HubInfo"), "the hub")},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
        }
    },
    "/pair": {
        "post": {
            "summary": "Exchange a one-time pairing code for a token",
            "security": [],
            "requestBody": _json(
                {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string"}, "client_name": {"type": "string"}},
                },
                "the code the hub printed",
            ),
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "token": {"type": "string"},
                            "token_id": {"type": "string"},
                            "hub_id": {"type": "string"},
                        },
                    },
                    "the new token (shown once)",
                ),
                "400": _error("malformed body"),
                "401": _error("wrong, used or expired code"),
            },
        }
    },
    "/tokens": {
        "get": {
            "summary": "List client tokens",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"tokens": {"type": "array", "items": _ref("Token")}},
                    },
                    "the tokens",
                ),
                **_AUTH_ERRORS,
            },
        }
    },
    "/tokens/{token_id}": {
        "delete": {
            "summary": "Revoke a token (its WebSockets close with 4001)",
            "parameters": [
                {"name": "token_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "204": {"description": "revoked"},
                "404": _error("unknown token"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/doorbells": {
        "get": {
            "summary": "List doorbells",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"doorbells": {"type": "array", "items": _ref("Doorbell")}},
                    },
                    "the doorbells",
                ),
                **_AUTH_ERRORS,
            },
        }
    },
    "/doorbells/{doorbell_id}": {
        "parameters": [_DOORBELL_ID],
        "get": {
            "summary": "One doorbell",
            "responses": {
                "200": _json(_ref("Doorbell"), "the doorbell"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
        "patch": {
            "summary": "Rename a doorbell or switch privacy mode (no recording, no sharing)",
            "requestBody": _json(
                {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "privacy_mode": {"type": "boolean"}},
                    "additionalProperties": False,
                },
                "the changes",
            ),
            "responses": {
                "200": _json(_ref("Doorbell"), "the doorbell"),
                "400": _error("malformed body"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
        "delete": {
            "summary": "Disconnect, unpair and forget a doorbell",
            "responses": {"204": {"description": "forgotten"}, **_UNKNOWN, **_AUTH_ERRORS},
        },
    },
    "/doorbells/{doorbell_id}/approve": {
        "parameters": [_DOORBELL_ID],
        "post": {
            "summary": "Adopt a doorbell waiting for approval",
            "responses": {
                "200": _json(_ref("Doorbell"), "the doorbell"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
    },
    "/doorbells/{doorbell_id}/snapshot": {
        "parameters": [_DOORBELL_ID],
        "get": {
            "summary": "The doorbell's current picture",
            "responses": {
                "200": _jpeg("JPEG"),
                "409": _error("doorbell offline, unpaired or without a camera"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
    },
    "/doorbells/{doorbell_id}/video": {
        "parameters": [_DOORBELL_ID],
        "get": {
            "summary": "Live video relayed from the doorbell (H.264 in MPEG-TS)",
            "responses": {
                "200": {
                    "description": "live stream",
                    "content": {"video/mp2t": {"schema": {"type": "string", "format": "binary"}}},
                },
                "409": _error("doorbell offline, unpaired or without video"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
    },
    "/events": {
        "get": {
            "summary": "A page of stored events, oldest first",
            "parameters": [
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                },
                {"name": "doorbell", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "events": {"type": "array", "items": _ref("Event")},
                            "last_seq": {"type": "integer"},
                            "more": {"type": "boolean"},
                        },
                    },
                    "the page",
                ),
                "400": _error("bad query parameter"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        }
    },
    "/events/{seq}/snapshot": {
        "get": {
            "summary": "The picture taken when the event happened",
            "parameters": [
                {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _jpeg("JPEG"),
                "404": _error("no snapshot for that event"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/ws": {
        "get": {
            "summary": "WebSocket push: hello, doorbells, events after `after`, then live messages",
            "description": (
                "Messages: hello, event, doorbell, doorbell_removed, snapshot. See docs/hub-api.md."
            ),
            "parameters": [
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "token", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "101": {"description": "switching to WebSocket"},
                "400": _error("bad `after`"),
                **_AUTH_ERRORS,
            },
        }
    },
}


def openapi_document(version: str) -> Schema:
    """The whole document, for this hub version."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Doorward hub API",
            "version": version,
            "description": "Local API of a Doorward hub. Concepts: docs/hub-api.md.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
