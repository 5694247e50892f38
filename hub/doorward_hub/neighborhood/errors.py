"""Why a group action failed: the errors of talking to a homeserver. Apart from the Matrix
client, so that what handles them does not load it (a hub in no group never does)."""

from __future__ import annotations


class MatrixError(Exception):
    """A homeserver said no, or could not be reached; the message is for people."""

    def __init__(self, message: str, errcode: str = "") -> None:
        """Keep the Matrix error code (`M_FORBIDDEN`...) next to the message."""
        super().__init__(message)
        self.errcode = errcode


class HomeserverUnreachable(MatrixError):
    """No answer from the homeserver (down, wrong URL, network)."""


class InviteRejected(MatrixError):
    """The homeserver did not accept the invite (token used, expired or revoked)."""
