"""A namespace used only by the core tests, to exercise BaseNamespace directly."""

from pydantic import Field

from votemap_site.realtime.base import BaseNamespace
from votemap_site.realtime.errors import FORBIDDEN, NOT_FOUND, RealtimeError
from votemap_site.realtime.ratelimit import RateLimit
from votemap_site.realtime.schemas import EmptyPayload, EventSchema


class EchoPayload(EventSchema):
    text: str = Field(max_length=20)
    n: int = 0


class LookupPayload(EventSchema):
    key: str = Field(max_length=10)


class ProbeNamespace(BaseNamespace):
    schemas = {
        "echo": EchoPayload,
        "boom": EmptyPayload,
        "whoami": EmptyPayload,
        "staff_only": EmptyPayload,
        "lookup": LookupPayload,
    }
    rate_limits = {"echo": RateLimit(per_second=2, burst=3)}

    async def on_echo(self, sid: str, payload: EchoPayload) -> dict:
        return {"text": payload.text, "n": payload.n}

    async def on_boom(self, sid: str, payload: EmptyPayload) -> dict:
        raise RuntimeError("secret internal detail")

    async def on_whoami(self, sid: str, payload: EmptyPayload) -> dict:
        identity = self.identity(sid)
        return {
            "public_id": identity.public_id,
            "has_session": identity.has_session,
            "is_staff": identity.is_staff,
            "username": identity.username,
        }

    async def on_staff_only(self, sid: str, payload: EmptyPayload) -> dict:
        if not self.identity(sid).is_staff:
            raise RealtimeError(FORBIDDEN, "staff only")
        return {"done": True}

    async def on_lookup(self, sid: str, payload: LookupPayload) -> dict:
        raise RealtimeError(NOT_FOUND, f"no such key {payload.key!r}")
