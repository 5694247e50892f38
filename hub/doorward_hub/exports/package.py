"""Packaging an export for a Matrix room: hashes, media facts, AES-CTR encrypted attachments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from nio.crypto.attachments import encrypt_attachment


@dataclass(frozen=True)
class EncryptedFile:
    """Ciphertext to upload, and the `file` block (key, iv, hashes) recipients need."""

    ciphertext: bytes
    keys: dict[str, Any]
    plaintext_size: int
    plaintext_sha256: str
    mimetype: str

    def file_block(self, mxc_url: str) -> dict[str, Any]:
        """The `file` object of an encrypted `m.video`/`m.image` once uploaded to `mxc_url`."""
        return {"url": mxc_url, "mimetype": self.mimetype, **self.keys}


@dataclass(frozen=True)
class MediaFacts:
    """What a Matrix client shows before downloading: size and length."""

    width: int
    height: int
    duration_ms: int


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in chunks. Blocking: run it in a thread."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def encrypt_file(path: Path, mimetype: str) -> EncryptedFile:
    """Read and encrypt a file as a Matrix attachment. Blocking: run it in a thread."""
    plaintext = path.read_bytes()
    ciphertext, keys = encrypt_attachment(plaintext)
    return EncryptedFile(
        ciphertext=ciphertext,
        keys=dict(keys),
        plaintext_size=len(plaintext),
        plaintext_sha256=hashlib.sha256(plaintext).hexdigest(),
        mimetype=mimetype,
    )


def media_facts(path: Path) -> MediaFacts:
    """Width, height and duration of a video or picture. Blocking: run it in a thread."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = 0
        if container.duration is not None:
            duration = int(container.duration // 1000)  # AV_TIME_BASE is microseconds
        return MediaFacts(
            int(stream.codec_context.width), int(stream.codec_context.height), duration
        )
