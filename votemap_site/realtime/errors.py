"""Error codes of the acknowledgement envelope (docs/protocol.md, general rules)."""

import math
from typing import Any

INVALID = "invalid"
NOT_FOUND = "not_found"
NOT_JOINED = "not_joined"
FORBIDDEN = "forbidden"
CLOSED = "closed"
RATE_LIMITED = "rate_limited"
UNKNOWN_EVENT = "unknown_event"
INTERNAL = "internal"

ERROR_CODES = frozenset(
    {INVALID, NOT_FOUND, NOT_JOINED, FORBIDDEN, CLOSED, RATE_LIMITED, UNKNOWN_EVENT, INTERNAL}
)


class RealtimeError(Exception):
    """Raised by handlers and services; the base namespace turns it into an error ack.

    Nothing has been applied when one of these is raised: services raise before
    they write, or inside the transaction that the error rolls back.
    """

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def to_ack(self) -> dict[str, Any]:
        return error_ack(self.code, self.message, retry_after=self.retry_after)


def ok_ack(data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": True, "data": data if data is not None else {}}


def error_ack(code: str, message: str, *, retry_after: float | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        # Whole milliseconds, rounded up: a refusal never says "retry in 0 s".
        error["retry_after"] = max(1, math.ceil(retry_after * 1000)) / 1000
    return {"ok": False, "error": error}
