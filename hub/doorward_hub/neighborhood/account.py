"""One Matrix account and device per role, kept in the hub's data folder.

The folder holds `account.json` (0600: homeserver, user id, device id, password, access token)
and `crypto/` (0700: nio's Olm/Megolm store). The device id is chosen and written down before
the first request, so a crash anywhere during registration or login ends with the same device
on the next try; a restart restores the login and never makes a new device.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final

import aiohttp
from nio.client.async_client import AsyncClient, AsyncClientConfig
from nio.responses import ErrorResponse, Response

from ..core.files import create_private_file, private_folder, read_json, write_json_atomically
from .errors import HomeserverUnreachable, InviteRejected, MatrixError

ACCOUNT_FILE: Final = "account.json"
CRYPTO_DIR: Final = "crypto"
CRYPTO_STORE: Final = "store.db"
"""The crypto store in `CRYPTO_DIR`: one fixed name, so it can be created private first."""
REQUEST_TIMEOUT: Final = 30.0


def checked[R: Response](response: R | ErrorResponse, what: str) -> R:
    """`response` if it is a success; otherwise a `MatrixError` naming `what` failed."""
    if isinstance(response, ErrorResponse):
        code = str(response.status_code or "")
        raise MatrixError(f"{what}: {response.message} ({code})", code)
    return response


@dataclass(frozen=True)
class Credentials:
    """What `account.json` holds."""

    homeserver: str
    user_id: str
    device_id: str
    password: str
    access_token: str = ""


def _client_config() -> AsyncClientConfig:
    # The sync position is the hub's own (written after the events are stored), not nio's.
    return AsyncClientConfig(
        encryption_enabled=True,
        store_sync_tokens=False,
        request_timeout=REQUEST_TIMEOUT,
        max_timeouts=2,
        max_limit_exceeded=5,
        store_name=CRYPTO_STORE,
    )


def _new_client(folder: Path, credentials: Credentials) -> AsyncClient:
    store = private_folder(folder / CRYPTO_DIR)
    # Created private before nio opens it: SQLite keeps the mode it finds.
    create_private_file(store / CRYPTO_STORE)
    return AsyncClient(
        credentials.homeserver,
        credentials.user_id,
        device_id=credentials.device_id,
        store_path=str(store),
        config=_client_config(),
    )


def _new_device_id() -> str:
    return "DOORWARD" + secrets.token_hex(5).upper()


async def close(client: AsyncClient) -> None:
    """Close a client's HTTP session (nio leaves `close` unannotated)."""
    await client.close()  # type: ignore[no-untyped-call]


def has_account(folder: Path) -> bool:
    """True if `folder` holds a usable login."""
    raw = read_json(folder / ACCOUNT_FILE)
    return isinstance(raw, dict) and bool(raw.get("access_token"))


async def _call[T](coroutine: Awaitable[T], homeserver: str) -> T:
    try:
        result = await coroutine
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise HomeserverUnreachable(f"cannot reach the homeserver {homeserver}: {err}") from err
    return result


async def register(
    folder: Path, homeserver: str, username: str, registration_token: str, device_name: str
) -> AsyncClient:
    """Create the account with a registration token (or finish an interrupted registration)."""
    private_folder(folder)
    credentials, resumed = _pending(folder, homeserver, username)
    if credentials.access_token:
        return restore(folder)  # registered before a crash; the invite is spent
    client = _new_client(folder, credentials)
    try:
        response = await _call(
            client.register_with_token(
                username, credentials.password, registration_token, device_name
            ),
            homeserver,
        )
        if isinstance(response, ErrorResponse) and response.status_code == "M_USER_IN_USE":
            if not resumed:
                raise InviteRejected(
                    "this invite was used already (its account exists); "
                    "ask the group admin for a new invite",
                    "M_USER_IN_USE",
                )
            # Our own earlier attempt got this far: log in to the same device.
            await _login(client, credentials, device_name)
        else:
            if isinstance(response, ErrorResponse) and response.status_code in (
                None,
                "M_UNAUTHORIZED",
                "M_FORBIDDEN",
            ):
                raise InviteRejected(
                    "the homeserver did not accept the invite's registration token "
                    "(it was used already, expired, or was revoked)",
                    str(response.status_code or "M_FORBIDDEN"),
                )
            checked(response, "registration")
        _save_login(folder, credentials, client)
    except BaseException:
        await close(client)
        raise
    return client


async def login(
    folder: Path, homeserver: str, user: str, password: str, device_name: str
) -> AsyncClient:
    """Log in to an existing account (the group host's admin account) on a kept device."""
    private_folder(folder)
    known = read_json(folder / ACCOUNT_FILE)
    device_id = known["device_id"] if isinstance(known, dict) else _new_device_id()
    credentials = Credentials(homeserver, user, device_id, password)
    _save(folder, credentials)
    client = _new_client(folder, credentials)
    try:
        await _login(client, credentials, device_name)
        _save(
            folder, replace(credentials, user_id=client.user_id, access_token=client.access_token)
        )
    except BaseException:
        await close(client)
        raise
    return client


async def _login(client: AsyncClient, credentials: Credentials, device_name: str) -> None:
    response = await _call(
        client.login(credentials.password, device_name=device_name), credentials.homeserver
    )
    if isinstance(response, ErrorResponse) and response.status_code == "M_FORBIDDEN":
        raise MatrixError("the homeserver refused the user name or password", "M_FORBIDDEN")
    checked(response, "login")


def _pending(folder: Path, homeserver: str, username: str) -> tuple[Credentials, bool]:
    """The credentials to register with, and whether an earlier attempt already used them."""
    known = read_json(folder / ACCOUNT_FILE)
    if isinstance(known, dict) and known.get("homeserver") == homeserver:
        return Credentials(**known), True
    credentials = Credentials(homeserver, username, _new_device_id(), secrets.token_urlsafe(24))
    _save(folder, credentials)
    return credentials, False


def _save_login(folder: Path, credentials: Credentials, client: AsyncClient) -> None:
    _save(folder, replace(credentials, user_id=client.user_id, access_token=client.access_token))


def _save(folder: Path, credentials: Credentials) -> None:
    write_json_atomically(folder / ACCOUNT_FILE, asdict(credentials))


def credentials(folder: Path) -> Credentials:
    """The credentials kept in `folder`; `MatrixError` when there is no login there."""
    raw = read_json(folder / ACCOUNT_FILE)
    if not isinstance(raw, dict) or not raw.get("access_token"):
        raise MatrixError(f"no Matrix login in {folder}")
    return Credentials(**raw)


def restore(folder: Path) -> AsyncClient:
    """A client logged in as the kept account and device, with its crypto store loaded."""
    kept = credentials(folder)
    client = _new_client(folder, kept)
    client.restore_login(kept.user_id, kept.device_id, kept.access_token)
    return client


async def prepare_encryption(client: AsyncClient) -> None:
    """Upload this device's keys if the server lacks them."""
    if client.should_upload_keys:
        checked(await client.keys_upload(), "uploading device keys")


async def forget(folder: Path, client: AsyncClient) -> None:
    """Delete this device on the homeserver, then the kept login and keys on disk."""
    kept = credentials(folder)
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": kept.user_id},
        "password": kept.password,
    }
    first = await client.delete_devices([kept.device_id])
    if isinstance(first, ErrorResponse) and first.status_code not in (None, "M_UNAUTHORIZED"):
        checked(first, "removing the device")
    session = getattr(first, "session", None)
    if session:
        auth["session"] = session
    checked(await client.delete_devices([kept.device_id], auth), "removing the device")
    await close(client)
    await asyncio.to_thread(shutil.rmtree, folder)
