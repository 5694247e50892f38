"""Hub configuration: embedded defaults, an optional YAML file, command-line overrides."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import probatio as vol
import yaml

from doorward_hub.protocol import DEFAULT_PORT

DEFAULT_DATA_DIR = Path("~/.local/share/doorward")


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the reason."""


@dataclass(frozen=True, slots=True)
class RecordingConfig:
    """Clip recording settings (the `recording` key). See docs/hub-api.md."""

    enabled: bool = True
    pre_roll_seconds: float = 5.0
    post_roll_seconds: float = 10.0
    retention_days: float = 7.0
    max_total_mb: int | None = None
    min_free_mb: int = 500


@dataclass(frozen=True, slots=True)
class NeighborhoodConfig:
    """Neighborhood group settings (the `neighborhood` key). See docs/hub-api.md."""

    received_retention_days: float = 7.0


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Validated hub settings. See docs/hub-api.md for the meaning of each key."""

    data_dir: Path = DEFAULT_DATA_DIR
    name: str = "Doorward hub"
    host: str = "0.0.0.0"  # noqa: S104 - the hub serves the LAN by design
    port: int = DEFAULT_PORT
    adoption: str = "auto"
    press_merge_seconds: float = 2.0
    zeroconf_interfaces: list[str] | None = None
    notify_base_url: str | None = None
    advertise: bool = True
    log_format: str = "text"
    log_level: str = "info"
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    neighborhood: NeighborhoodConfig = field(default_factory=NeighborhoodConfig)

    def __post_init__(self) -> None:
        """Expand `~` in the data folder."""
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())


def _ip_address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError as err:
        raise vol.Invalid(f"not an IP address: {value!r}") from err


def _base_url(value: Any) -> str:
    """An `http://host[:port]` URL without path, query or credentials."""
    url = urlsplit(str(value).strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        raise vol.Invalid("must be an http:// or https:// URL with a host")
    if url.username or url.password or url.query or url.fragment or url.path not in ("", "/"):
        raise vol.Invalid("must be scheme, host and port only, e.g. http://192.168.1.5:8470")
    try:
        url.port  # noqa: B018 - validates the port
    except ValueError as err:
        raise vol.Invalid(f"invalid port: {err}") from err
    return f"{url.scheme}://{url.netloc}"


def _non_empty(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise vol.Invalid("must not be empty")
    return text


RECORDING_SCHEMA = vol.Schema(
    {
        vol.Optional("enabled"): bool,
        vol.Optional("pre_roll_seconds"): vol.All(vol.Coerce(float), vol.Range(min=0.0, max=30.0)),
        vol.Optional("post_roll_seconds"): vol.All(
            vol.Coerce(float), vol.Range(min=1.0, max=300.0)
        ),
        vol.Optional("retention_days"): vol.All(vol.Coerce(float), vol.Range(min=0.01, max=3650)),
        vol.Optional("max_total_mb"): vol.Any(None, vol.All(int, vol.Range(min=1))),
        vol.Optional("min_free_mb"): vol.All(int, vol.Range(min=0)),
    },
    extra=vol.PREVENT_EXTRA,
)

NEIGHBORHOOD_SCHEMA = vol.Schema(
    {
        vol.Optional("received_retention_days"): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=3650)
        ),
    },
    extra=vol.PREVENT_EXTRA,
)

SCHEMA = vol.Schema(
    {
        vol.Optional("data_dir"): vol.All(str, _non_empty),
        vol.Optional("name"): vol.All(str, _non_empty, vol.Length(max=64)),
        vol.Optional("host"): _ip_address,
        vol.Optional("port"): vol.All(int, vol.Range(min=0, max=65535)),
        vol.Optional("adoption"): vol.In(["auto", "approve"]),
        vol.Optional("press_merge_seconds"): vol.All(
            vol.Coerce(float), vol.Range(min=0.0, max=30.0)
        ),
        vol.Optional("zeroconf_interfaces"): vol.Any(None, [_ip_address]),
        vol.Optional("notify_base_url"): vol.Any(None, _base_url),
        vol.Optional("advertise"): bool,
        vol.Optional("log_format"): vol.In(["text", "json"]),
        vol.Optional("log_level"): vol.In(["debug", "info", "warning", "error"]),
        vol.Optional("recording"): vol.Any(None, RECORDING_SCHEMA),
        vol.Optional("neighborhood"): vol.Any(None, NEIGHBORHOOD_SCHEMA),
    },
    extra=vol.PREVENT_EXTRA,
)


def _describe(error: vol.Invalid) -> str:
    key = ".".join(str(part) for part in error.path) or "(top level)"
    message = error.msg
    if isinstance(error, vol.ExtraKeysInvalid) or message == "extra keys not allowed":
        message = "unknown key"
    return f"{key}: {message}"


def validate(raw: dict[str, Any], source: str = "configuration") -> HubConfig:
    """Validate a mapping of settings and build a `HubConfig`, or raise `ConfigError`."""
    try:
        values = SCHEMA(raw)
    except vol.MultipleInvalid as err:
        reasons = "; ".join(sorted(_describe(e) for e in err.errors))
        raise ConfigError(f"invalid {source}: {reasons}") from err
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    if "recording" in values:
        values["recording"] = RecordingConfig(**(values["recording"] or {}))
    if "neighborhood" in values:
        values["neighborhood"] = NeighborhoodConfig(**(values["neighborhood"] or {}))
    return HubConfig(**values)


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> HubConfig:
    """Read the YAML file (if any), apply overrides (flags), validate everything together."""
    raw: dict[str, Any] = {}
    source = "configuration"
    if path is not None:
        source = f"config {path}"
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read config {path}: {err.strerror}") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"invalid {source}: not valid YAML: {err}") from err
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"invalid {source}: the top level must be a mapping of keys")
        raw.update(loaded or {})
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return validate(raw, source)
