"""Group invites: everything a household needs to join, as one string it can paste.

`doorward-invite:` followed by unpadded URL-safe base64 of JSON: the homeserver URL, a
single-use registration token, the account name the group admin reserved for the household
(already invited to the group's rooms), the space's room id and the group's name.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import asdict, dataclass
from typing import Final
from urllib.parse import urlsplit

PREFIX: Final = "doorward-invite:"
_LOCALPART = re.compile(r"^[a-z0-9._=/+-]{1,64}$")


class InvalidInvite(ValueError):
    """A pasted invite that cannot be used; the message says why, in words for people."""


@dataclass(frozen=True)
class Invite:
    """One household's way into one group."""

    homeserver: str
    registration_token: str
    username: str
    space_id: str
    group_name: str

    def encode(self) -> str:
        """The pasteable string."""
        payload = json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()
        return PREFIX + base64.urlsafe_b64encode(payload).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Invite:
        """Parse a pasted invite (surrounding white space is ignored)."""
        text = "".join(text.split())
        if not text.startswith(PREFIX):
            raise InvalidInvite(f"an invite starts with {PREFIX!r}")
        body = text.removeprefix(PREFIX)
        try:
            raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError) as err:
            raise InvalidInvite("the invite is damaged (copy it again, whole)") from err
        if not isinstance(raw, dict):
            raise InvalidInvite("the invite is damaged (copy it again, whole)")
        fields = ("homeserver", "registration_token", "username", "space_id", "group_name")
        missing = [name for name in fields if not isinstance(raw.get(name), str) or not raw[name]]
        if missing:
            raise InvalidInvite(f"the invite lacks {', '.join(missing)}")
        invite = cls(**{name: raw[name] for name in fields})
        url = urlsplit(invite.homeserver)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInvite("the invite's homeserver is not an http(s) URL")
        if not _LOCALPART.match(invite.username):
            raise InvalidInvite("the invite's account name is not a valid Matrix user name")
        if not invite.space_id.startswith("!"):
            raise InvalidInvite("the invite's group is not a Matrix room id")
        return invite
