"""Constants for the Doorward integration."""

import logging
from datetime import timedelta
from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "doorward"
LOGGER = logging.getLogger(__package__)

MANUFACTURER: Final = "Doorward"
DEFAULT_PORT: Final = 8470
DEFAULT_HUB_NAME: Final = "Doorward hub"
CLIENT_NAME: Final = "Home Assistant"

CONF_TOKEN_ID: Final = "token_id"  # noqa: S105 - a config key, not a secret
CONF_PAIRING_CODE: Final = "pairing_code"

# The hub's zeroconf TXT keys (docs/hub-api.md, "Discovery").
ZEROCONF_HUB_ID: Final = "hub_id"
ZEROCONF_API: Final = "api"
ZEROCONF_NAME: Final = "name"
SUPPORTED_API_VERSION: Final = 1

PLATFORMS: Final = [
    Platform.BINARY_SENSOR,
    Platform.CAMERA,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SENSOR,
    Platform.SWITCH,
]

# Push connection: reconnect backoff, and when an unreachable hub becomes a repair issue.
RECONNECT_MIN_DELAY: Final = 1.0
RECONNECT_MAX_DELAY: Final = 60.0
UNREACHABLE_ISSUE_DELAY: Final = timedelta(minutes=5)
WS_HEARTBEAT: Final = 30.0

# Hub event types (docs/hub-api.md, "Events") and the doorbell capabilities that matter here.
EVENT_PRESS: Final = "press"
EVENT_MOTION_START: Final = "motion_start"
EVENT_MOTION_STOP: Final = "motion_stop"
CAPABILITY_MOTION: Final = "motion"
CAPABILITY_SNAPSHOT: Final = "snapshot"
CAPABILITY_VIDEO: Final = "video"

# Clips (docs/hub-api.md, "Clips"): the hub's triggers, the `record` action, the clip event.
CLIP_TRIGGER_PRESS: Final = "press"
CLIP_TRIGGER_MOTION: Final = "motion"
CLIP_TRIGGER_MANUAL: Final = "manual"
EVENT_CLIP_READY: Final = "clip_ready"
SERVICE_RECORD: Final = "record"
ATTR_DURATION: Final = "duration"
DEFAULT_RECORD_SECONDS: Final = 10  # the hub's own default (docs/hub-api.md)
MAX_RECORD_SECONDS: Final = 300

# Neighborhood groups (docs/hub-api.md, "Neighborhood group"): sharing one clip, neighbors' posts.
SERVICE_SHARE_CLIP: Final = "share_clip"
ATTR_CLIP_ID: Final = "clip_id"
ATTR_MESSAGE: Final = "message"
MAX_SHARE_MESSAGE_LENGTH: Final = 2000
EVENT_NEIGHBOR_POST: Final = "neighbor_post"

DOORBELL_STATUSES: Final = ["pending_approval", "pairing", "online", "offline", "error"]

STORAGE_VERSION: Final = 1
STORAGE_SAVE_DELAY: Final = 1.0
