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
