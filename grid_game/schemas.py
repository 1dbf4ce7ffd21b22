"""Payload schemas of the `/grid-game` events (docs/protocol.md, /grid-game)."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from votemap_site.realtime.schemas import EmptyPayload, EventSchema, Slug

Name = Annotated[str, StringConstraints(min_length=1, max_length=16)]


class JoinGamePayload(EventSchema):
    arena: Slug = "main"
    name: Name | None = None
    spectate: bool = False


class MovePayload(EventSchema):
    direction: Literal["up", "down", "left", "right"]
    seq: Annotated[int, Field(ge=0, le=2**53)]


class LeaveGamePayload(EmptyPayload):
    pass


class ListArenasPayload(EmptyPayload):
    pass
