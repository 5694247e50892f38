"""Warrant documents as files: the types accepted (PDF, PNG, JPEG, checked by their first
bytes), their size and name. Apart from their transfer (`warrants.py`, the Matrix client), so the
hub's API can describe them without loading it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_WARRANT_BYTES: Final = 4 * 1024 * 1024
SIGNATURES: Final = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
"""The document types accepted, each with the bytes its files start with."""


class InvalidWarrant(ValueError):
    """A document that cannot be a warrant attachment; the message says why."""


@dataclass(frozen=True)
class WarrantFile:
    """A decrypted warrant document."""

    filename: str
    mimetype: str
    data: bytes


def check_warrant(filename: str, mimetype: str, data: bytes) -> None:
    """Refuse an empty, oversized, mistyped or unnamed document."""
    if mimetype not in SIGNATURES:
        raise InvalidWarrant(f"must be one of {', '.join(SIGNATURES)}, not {mimetype!r}")
    if not data:
        raise InvalidWarrant("the document is empty")
    if len(data) > MAX_WARRANT_BYTES:
        raise InvalidWarrant(f"the document is larger than {MAX_WARRANT_BYTES} bytes")
    if not data.startswith(SIGNATURES[mimetype]):
        raise InvalidWarrant(f"the document is not a {mimetype} file")
    if not filename or len(filename) > 200 or "/" in filename or "\\" in filename:
        raise InvalidWarrant("the file name must be 1 to 200 characters without slashes")


def mimetype_of(filename: str) -> str:
    """The accepted type a file name says (`.pdf`, `.png`, `.jpg`/`.jpeg`)."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    types = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}
    mimetype = types.get("jpg" if suffix == "jpeg" else suffix)
    if mimetype is None:
        raise InvalidWarrant("a warrant document is a .pdf, .png or .jpg file")
    return mimetype
