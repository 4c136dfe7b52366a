"""The one error asp-debug reports: a message for a person and the exit status."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
"""Bad command line or input file (URL, WAV, session id)."""
EXIT_CONNECTION = 3
"""Could not reach the server or Redis, the token was refused, the peer is not ASP, or the
connection dropped."""
EXIT_REJECTED = 4
"""The server rejected the session (session.started with status rejected)."""
EXIT_NO_ANSWER = 5
"""The session ran but the agent did not answer (in time, or with audio)."""


class DebugError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
