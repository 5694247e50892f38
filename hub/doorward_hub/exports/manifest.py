"""Chain-of-custody manifests: canonical JSON signed with the hub's Ed25519 key, as Matrix signs.

A manifest says what was shared (each item's SHA-256 before and after redaction, the
redactions applied, the device's start and end time and clock source), by which hub (its
key), to whom, when, and until when the recipient may keep it. Only whole numbers appear
(Matrix events are canonical JSON, which has no floats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from signedjson.key import decode_verify_key_base64
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json

from .identity_key import SIGNATURE_NAME, IdentityKey

VERSION: Final = 1


@dataclass(frozen=True)
class ManifestItem:
    """One shared file."""

    name: str
    size: int
    sha256_original: str
    sha256_shared: str
    redactions: tuple[str, ...]
    device_start_ms: int
    device_end_ms: int
    clock_source: str

    def to_json(self) -> dict[str, Any]:
        """The item as the manifest lists it."""
        return {
            "name": self.name,
            "size": self.size,
            "sha256_original": self.sha256_original,
            "sha256_shared": self.sha256_shared,
            "redactions": list(self.redactions),
            "device_start_ms": self.device_start_ms,
            "device_end_ms": self.device_end_ms,
            "clock_source": self.clock_source,
        }


def signed_manifest(
    *,
    identity: IdentityKey,
    export_id: str,
    purpose: str,
    recipient: str,
    items: list[ManifestItem],
    created_ms: int,
    expires_ms: int,
    request_id: str | None = None,
    case_number: str | None = None,
) -> dict[str, Any]:
    """Build the manifest and sign it; the result carries `signatures`."""
    manifest: dict[str, Any] = {
        "version": VERSION,
        "export_id": export_id,
        "purpose": purpose,
        "recipient": recipient,
        "hub_key": {"key_id": identity.key_id, "public_key": identity.public_base64},
        "items": [item.to_json() for item in items],
        "created_ms": created_ms,
        "expires_ms": expires_ms,
    }
    if request_id is not None:
        manifest["request_id"] = request_id
    if case_number is not None:
        manifest["case_number"] = case_number
    signed: dict[str, Any] = sign_json(manifest, SIGNATURE_NAME, identity.signing_key)
    return signed


@dataclass(frozen=True)
class Verification:
    """Whether a received manifest and its files hold, and if not, why."""

    verified: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        """As stored and shown."""
        return {"verified": self.verified, "reason": self.reason}


def verify_manifest(
    manifest: Any,
    *,
    expected_key: str,
    expected_key_id: str,
    shared_sha256: dict[str, str],
    now_ms: int,
) -> Verification:
    """Check the signature against the sender's published key, and every item's hash against
    the bytes actually received (`shared_sha256`: item name -> SHA-256 of what arrived)."""
    problem = _signature_problem(manifest, expected_key, expected_key_id) or _content_problem(
        manifest, shared_sha256, now_ms
    )
    if problem:
        return Verification(False, problem)
    return Verification(True, "signature and hashes match")


def _signature_problem(manifest: Any, expected_key: str, expected_key_id: str) -> str | None:
    if not isinstance(manifest, dict):
        return "no manifest"
    hub_key = manifest.get("hub_key")
    published = (expected_key, expected_key_id)
    if not isinstance(hub_key, dict) or (hub_key.get("public_key"), hub_key.get("key_id")) != (
        published
    ):
        return "signed with a key the sender has not published"
    algorithm, _, version = expected_key_id.partition(":")
    try:
        verify_key = decode_verify_key_base64(algorithm, version, expected_key)
        verify_signed_json(manifest, SIGNATURE_NAME, verify_key)
    except (SignatureVerifyException, ValueError) as err:
        return f"bad signature: {err}"
    return None


def _content_problem(
    manifest: dict[str, Any], shared_sha256: dict[str, str], now_ms: int
) -> str | None:
    items = manifest.get("items")
    if not isinstance(items, list) or not items:
        return "the manifest lists no items"
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in shared_sha256:
            return f"item {name!r} did not arrive"
        if item.get("sha256_shared") != shared_sha256[name]:
            return f"item {name!r} differs from what was signed"
    expires = manifest.get("expires_ms")
    if not isinstance(expires, int) or expires <= now_ms:
        return "the manifest has expired"
    return None
