"""The hub's Ed25519 identity key: signs export manifests, published in the groups it joins."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from signedjson.key import (
    encode_verify_key_base64,
    generate_signing_key,
    get_verify_key,
    read_signing_keys,
    write_signing_keys,
)
from signedjson.types import SigningKey, VerifyKey

KEY_FILE: Final = "identity.key"
SIGNATURE_NAME: Final = "doorward-hub"
"""The entity name under which manifests carry the hub's signature (`signatures.<name>`)."""


@dataclass(frozen=True)
class IdentityKey:
    """The hub's signing key and what others need to check its signatures."""

    signing_key: SigningKey

    @property
    def verify_key(self) -> VerifyKey:
        """The public half."""
        return get_verify_key(self.signing_key)

    @property
    def key_id(self) -> str:
        """`ed25519:<version>`, as signedjson names keys."""
        return f"{self.signing_key.alg}:{self.signing_key.version}"

    @property
    def public_base64(self) -> str:
        """The public key, unpadded base64 (as Matrix writes keys)."""
        return encode_verify_key_base64(self.verify_key)


def load_or_create(data_dir: Path) -> IdentityKey:
    """The hub's identity key from `<data>/identity.key` (0600), made on first use."""
    path = data_dir / KEY_FILE
    try:
        with path.open() as stream:
            return IdentityKey(read_signing_keys(stream)[0])
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = generate_signing_key(os.urandom(4).hex())
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as stream:
        write_signing_keys(stream, [key])
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(path)
    return IdentityKey(key)
