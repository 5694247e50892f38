"""Invites are one pasteable string; damaged or foreign strings get a reason, not a crash."""

from __future__ import annotations

import base64
import json

import pytest

from doorward_hub.neighborhood.invite import InvalidInvite, Invite

INVITE = Invite(
    homeserver="https://matrix.elm.example",
    registration_token="abc123",
    username="hub-0a1b2c3d4e",
    space_id="!space:elm.example",
    group_name="Elm Street",
)


def _encoded(payload: object) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return "doorward-invite:" + raw


def test_round_trip_survives_line_breaks_and_spaces() -> None:
    """What a chat app or e-mail does to a long string does not matter."""
    text = INVITE.encode()
    assert Invite.decode(f"  {text[:30]}\n{text[30:]} ") == INVITE


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://matrix.elm.example", "starts with 'doorward-invite:'"),
        ("doorward-invite:!!!", "damaged"),
        (_encoded(["a list"]), "damaged"),
        (_encoded({"homeserver": "https://x"}), "lacks registration_token, username"),
        (_encoded({**INVITE.__dict__, "homeserver": "ftp://x"}), "not an http\\(s\\) URL"),
        (_encoded({**INVITE.__dict__, "username": "Hub A"}), "not a valid Matrix user name"),
        (_encoded({**INVITE.__dict__, "space_id": "#alias:x"}), "not a Matrix room id"),
    ],
)
def test_bad_invites_say_why(text: str, reason: str) -> None:
    """Each kind of bad paste is refused with its own reason."""
    with pytest.raises(InvalidInvite, match=reason):
        Invite.decode(text)
