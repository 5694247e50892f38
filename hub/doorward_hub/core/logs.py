"""Structured logging: fields passed in `extra` appear as key=value (text) or JSON keys."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, override

_LOGGER = logging.getLogger("doorward_hub.loop")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


# Characters that could end a line or rewrite a terminal (C0/C1 controls, DEL, Unicode line and
# paragraph separators) or that stderr cannot encode (lone surrogates). Text from outside (names,
# paths, codes) must never start a line of its own.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def escape(text: str) -> str:
    """`text` on one line: every control character as a visible escape (`\\n`, `\\x1b`)."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    point = ord(match.group())
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's fields."""

    @override
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the record's fields appended as key=value.

    The message and every field are escaped (see `escape`): one record is one line, whatever a
    client sent; only a traceback, which the hub itself writes, spans lines.
    """

    def __init__(self) -> None:
        """Use an ISO-like timestamp with milliseconds."""
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    @override
    def format(self, record: logging.LogRecord) -> str:
        record.message = escape(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{k}={escape(str(v))}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class LoopErrorLog:
    """The event loop's exception handler, with repeats summarised: the first report of a kind
    (its message) is logged in full, further ones within `quiet` seconds are only counted and
    logged as one line afterwards. Running out of file descriptors makes asyncio report a failed
    `accept()` up to a hundred times a second; this keeps that to one line a minute."""

    def __init__(self, quiet: float = 60.0) -> None:
        """Summarise repeats for `quiet` seconds."""
        self._quiet = quiet
        self._last: dict[str, float] = {}
        self._repeats: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Handle one report (`loop.set_exception_handler(LoopErrorLog())`)."""
        kind = str(context.get("message", "unhandled exception"))
        now = loop.time()
        last = self._last.get(kind)
        if last is not None and now - last < self._quiet:
            self._repeats[kind] = self._repeats.get(kind, 0) + 1
            return
        self._last[kind] = now
        repeats = self._repeats.pop(kind, 0)
        exception = context.get("exception")
        _LOGGER.error(
            kind,
            exc_info=exception if last is None else None,
            extra={"error": repr(exception), "repeats": repeats} if repeats else {},
        )


def configure_logging(log_format: str = "text", level: str = "info") -> None:
    """Send the hub's logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log repeats what our own records say; keep it for debugging only.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
