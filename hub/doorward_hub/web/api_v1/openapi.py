"""The OpenAPI 3.1 document of the hub API, served at `/api/v1/openapi.json`."""

from __future__ import annotations

from typing import Any

from doorward_hub.models import ClipTrigger, DoorbellStatus, EventType

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
_CLIP_ID = {"name": "clip_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_UNKNOWN_CLIP = {"404": _error("unknown clip")}

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
            "record_audio": {"type": "boolean", "description": "clips keep the audio track"},
            "retention_days": {
                "type": ["number", "null"],
                "description": "days its clips are kept; null: the hub's `retention_days`",
            },
            "firmware": {"type": ["string", "null"]},
        },
    },
    "Clip": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "doorbell_id": {"type": "string"},
            "trigger": {"enum": [t.value for t in ClipTrigger]},
            "trigger_seq": {"type": ["integer", "null"], "description": "the triggering event"},
            "trigger_time": {"type": "string", "format": "date-time"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "start_device_time": {"type": "number"},
            "end_device_time": {"type": "number"},
            "duration": {"type": "number"},
            "size": {"type": "integer"},
            "sha256": {"type": "string"},
            "file_name": {"type": "string"},
            "has_audio": {"type": "boolean"},
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
            "button": {
                "type": ["string", "null"],
                "description": "the button pressed, on stations that say (DoorBird: its input)",
            },
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
                "429": _error("this source guessed wrong too often; see Retry-After"),
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
            "summary": "Rename a doorbell, switch privacy mode (no recording, no sharing), or "
            "change its recording settings",
            "requestBody": _json(
                {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "privacy_mode": {"type": "boolean"},
                        "record_audio": {"type": "boolean"},
                        "retention_days": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 3650,
                            "description": "0: the hub's default",
                        },
                    },
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
    "/doorbells/{doorbell_id}/record": {
        "parameters": [_DOORBELL_ID],
        "post": {
            "summary": "Record a clip now: pre-roll plus `duration` seconds",
            "requestBody": _json(
                {
                    "type": "object",
                    "properties": {"duration": {"type": "number", "minimum": 1, "maximum": 300}},
                    "additionalProperties": False,
                },
                "how long to record after now (default 10 s)",
            ),
            "responses": {
                "202": _json(
                    {
                        "type": "object",
                        "properties": {
                            "doorbell_id": {"type": "string"},
                            "start": {"type": "string", "format": "date-time"},
                            "end": {"type": "string", "format": "date-time"},
                        },
                    },
                    "recording; a `clip` WebSocket message follows when the clip is stored",
                ),
                "400": _error("malformed body"),
                "409": _error("no live video: offline, privacy mode, or recording disabled"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
    },
    "/clips": {
        "get": {
            "summary": "A page of clips, newest first",
            "parameters": [
                {"name": "doorbell", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "trigger",
                    "in": "query",
                    "schema": {"enum": [t.value for t in ClipTrigger]},
                },
                {
                    "name": "since",
                    "in": "query",
                    "description": "clips ending at or after this time (Unix seconds)",
                    "schema": {"type": "number"},
                },
                {
                    "name": "until",
                    "in": "query",
                    "description": "clips starting at or before this time (Unix seconds)",
                    "schema": {"type": "number"},
                },
                {
                    "name": "before",
                    "in": "query",
                    "description": "page: clips with a smaller id",
                    "schema": {"type": "integer"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "clips": {"type": "array", "items": _ref("Clip")},
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
    "/clips/{clip_id}": {
        "parameters": [_CLIP_ID],
        "get": {
            "summary": "One clip",
            "responses": {
                "200": _json(_ref("Clip"), "the clip"),
                **_UNKNOWN_CLIP,
                **_AUTH_ERRORS,
            },
        },
        "delete": {
            "summary": "Delete a clip and its thumbnail (logged)",
            "responses": {"204": {"description": "deleted"}, **_UNKNOWN_CLIP, **_AUTH_ERRORS},
        },
    },
    "/clips/{clip_id}/video": {
        "parameters": [_CLIP_ID],
        "get": {
            "summary": "The clip (H.264 in MP4, faststart); HTTP Range requests are served",
            "responses": {
                "200": {
                    "description": "the MP4",
                    "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
                },
                "206": {"description": "the requested range"},
                **_UNKNOWN_CLIP,
                **_AUTH_ERRORS,
            },
        },
    },
    "/clips/{clip_id}/thumbnail": {
        "parameters": [_CLIP_ID],
        "get": {
            "summary": "The frame nearest the trigger",
            "responses": {
                "200": _jpeg("JPEG"),
                "404": _error("unknown clip, or it has no thumbnail"),
                **_AUTH_ERRORS,
            },
        },
    },
    "/doorbells/{doorbell_id}/credentials": {
        "parameters": [_DOORBELL_ID],
        "put": {
            "summary": "Enter the device credentials of a doorbell that cannot pair by itself "
            "(DoorBird: a device user with API permission); the doorbell reconnects with them",
            "requestBody": _json(
                {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                    "additionalProperties": False,
                },
                "the credentials",
            ),
            "responses": {
                "202": _json(_ref("Doorbell"), "stored; the doorbell's status tells the outcome"),
                "400": _error("malformed body"),
                "409": _error("this doorbell pairs by itself"),
                **_UNKNOWN,
                **_AUTH_ERRORS,
            },
        },
    },
    "/notify/{driver}/{doorbell_id}/{secret}/{event}": {
        "get": {
            "summary": "Called by a device to push an event (DoorBird HTTP favorites)",
            "description": "No token: the per-device secret in the path authenticates the call.",
            "security": [],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in ("driver", "doorbell_id", "secret", "event")
            ],
            "responses": {
                "204": {"description": "accepted"},
                "401": _error("wrong secret or unknown event"),
                **_UNKNOWN,
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
                "Messages: hello, event, doorbell, doorbell_removed, snapshot, clip, clip_removed. "
                "See docs/hub-api.md."
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
