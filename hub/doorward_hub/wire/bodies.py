"""The JSON bodies clients send, as probatio schemas: the hub validates every request body with
these, and the OpenAPI document shows them as `probatio.to_openapi` renders them."""

from __future__ import annotations

from typing import Any

import probatio as vol

MAX_MANUAL_SECONDS = 300.0
DEFAULT_MANUAL_SECONDS = 10.0
"""A manual recording: pre-roll plus this many seconds, unless the client asks otherwise."""

MIN_RETENTION_DAYS = 0.01
MAX_RETENTION_DAYS = 3650.0


def number(value: Any) -> float:
    """A JSON number (not a boolean), as float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    return float(value)


def whole(value: Any) -> int:
    """A JSON integer, as int: `53` and `53.0` alike (JSON Schema's `integer`), not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected an integer")
    if isinstance(value, float) and not value.is_integer():
        raise vol.Invalid("expected an integer")
    return int(value)


def text(value: Any) -> str:
    """A JSON string that is valid Unicode text (a lone surrogate cannot be stored or logged)."""
    if not isinstance(value, str):
        raise vol.Invalid("expected a string")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise vol.Invalid("must be valid Unicode (no lone surrogates)") from None
    return value


def openapi_of_validators(node: Any) -> Any:
    """`to_openapi`'s hook: the OpenAPI form of this module's own validators."""
    if node is number:
        return {"type": "number"}
    if node is text:
        return {"type": "string"}
    if node is whole:
        return {"type": "integer"}
    declared = getattr(node, "openapi_schema", None)  # a validator that documents itself
    if isinstance(declared, dict):
        return declared
    return vol.UNSUPPORTED


PAIR = vol.Schema(
    {
        vol.Required("code", description="the one-time code the hub printed, e.g. `ABCD-EFGH`"): (
            vol.All(text, vol.Length(min=1, max=64))
        ),
        vol.Optional("client_name", default="client", description="shown in the token list"): (
            vol.All(text, vol.Length(min=1, max=100))
        ),
    }
)
"""`POST /pair`."""

DOORBELL_PATCH = vol.Schema(
    {
        vol.Optional("name"): vol.All(text, vol.Length(min=1, max=64)),
        vol.Optional("privacy_mode"): bool,
        vol.Optional("record_audio"): bool,
        vol.Optional(
            "retention_days", description="days its clips are kept; null: the hub's default"
        ): vol.Any(
            None, vol.All(number, vol.Range(min=MIN_RETENTION_DAYS, max=MAX_RETENTION_DAYS))
        ),
    }
)
"""`PATCH /doorbells/{doorbell_id}`: only the fields given change."""

CREDENTIALS = vol.Schema(
    {
        vol.Required("username"): vol.All(
            text, vol.Length(min=1, max=128), vol.Match(r"^[^:]*$", msg="must not contain ':'")
        ),
        vol.Required("password"): vol.All(text, vol.Length(min=0, max=256)),
    }
)
"""`PUT /doorbells/{doorbell_id}/credentials`: a device user with API permission (DoorBird)."""

RECORD = vol.Schema(
    {
        vol.Optional(
            "duration",
            default=DEFAULT_MANUAL_SECONDS,
            description="seconds to record after now (after the pre-roll)",
        ): vol.All(number, vol.Range(min=1, max=MAX_MANUAL_SECONDS)),
    }
)
"""`POST /doorbells/{doorbell_id}/record` (the body may be left out)."""

MAX_INVITE_LENGTH = 4096
MAX_SHARE_MESSAGE_LENGTH = 2000  # = neighborhood.posts.MAX_MESSAGE_LENGTH
"""What neighbors read with a shared clip (the neighborhood's post message limit)."""

NEIGHBORHOOD_HOME = vol.Schema(
    {
        vol.Required("latitude"): vol.All(number, vol.Range(min=-90, max=90)),
        vol.Required("longitude"): vol.All(number, vol.Range(min=-180, max=180)),
    }
)
"""`PUT /neighborhood/home`: the home location (only its H3 cell is kept)."""

NEIGHBORHOOD_JOIN = vol.Schema(
    {
        # Only the invite's decoder can judge it (400 `invalid_invite` says why), so the schema
        # states the length alone: a pasted "hello" gets the same answer as a damaged invite.
        vol.Required(
            "invite", description="`doorward-invite:` and the rest, as the group admin gave it"
        ): vol.All(text, vol.Length(min=1, max=MAX_INVITE_LENGTH))
    }
)
"""`POST /neighborhood/join`: a pasted invite (`doorward-invite:...`)."""

SHARE = vol.Schema(
    {
        vol.Optional(
            "message", default="", description="what the neighbors read with the clip"
        ): vol.All(text, vol.Length(max=MAX_SHARE_MESSAGE_LENGTH)),
    }
)
"""`POST /clips/{clip_id}/share` (the body may be left out)."""

POLICE_ANSWER = vol.Schema(
    {
        vol.Optional(
            "clip_ids",
            default=None,
            description="the clips to share (a subset of the request's matching clips); "
            "left out or null: all of them",
        ): vol.Any(
            None,
            vol.All([vol.All(text, vol.Length(min=1, max=32))], vol.Length(min=1, max=500)),
        ),
        vol.Optional(
            "retention_days",
            default=None,
            description="how long the agency may keep the footage (capped by the group's policy)",
        ): vol.Any(None, vol.All(whole, vol.Range(min=1, max=3650))),
        vol.Optional("message", default="", description="what the agency reads"): vol.All(
            text, vol.Length(max=500)
        ),
    }
)
"""`POST /police/requests/{request_id}/answer`: one person's answer to one request."""

MAX_ALLOWED_AGENCIES = 100

DECLINE_RULES = vol.Schema(
    {
        vol.Required(
            "require_warrant", description="decline requests without a warrant document"
        ): bool,
        vol.Required(
            "allowed_agencies",
            description="decline requests from agencies (Matrix ids) not listed; null: no list",
        ): vol.Any(
            None,
            vol.All(
                [vol.All(text, vol.Match(r"^@[^:]+:.+$", msg="must be a Matrix user id"))],
                vol.Length(max=MAX_ALLOWED_AGENCIES),
            ),
        ),
        vol.Required(
            "max_area_m2", description="decline requests over a larger area (m²); null: no limit"
        ): vol.Any(None, vol.All(whole, vol.Range(min=1, max=10**12))),
        vol.Required(
            "max_window_minutes",
            description="decline requests for a longer time window; null: no limit",
        ): vol.Any(None, vol.All(whole, vol.Range(min=1, max=525_600))),
    }
)
"""`PUT /police/decline-rules`: the household's rules, replaced as a whole."""
