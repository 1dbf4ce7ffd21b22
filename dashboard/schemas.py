"""Payload schemas of `/map-dashboard` (docs/protocol.md). Strict: no coercion, no extra keys."""

from typing import Annotated, Literal

from pydantic import StringConstraints

from votemap_site.realtime.schemas import EmptyPayload, EventSchema, Uuid4Str

# Two ASCII digits: the INE code as a string ("28", "08"), never a number.
ProvinceCode = Annotated[str, StringConstraints(min_length=2, max_length=2, pattern=r"^[0-9]{2}$")]


class VotePayload(EventSchema):
    province: ProvinceCode
    direction: Literal["up", "down"]
    # Optional idempotency key; the server makes one up when it is missing.
    vote_id: Uuid4Str | None = None


class GetSnapshotPayload(EmptyPayload):
    pass


class ResetVotesPayload(EmptyPayload):
    pass
