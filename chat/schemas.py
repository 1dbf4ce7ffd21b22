"""Payloads of the `/chat` events (docs/protocol.md). Unknown keys, such as an
`author`, are refused with `invalid`: the server decides who wrote a message."""

from typing import Annotated

from pydantic import Field, StrictInt

from votemap_site.realtime.schemas import EmptyPayload, EventSchema, Slug, Uuid4Str

# Lengths after trimming are checked by the services; these bound the raw strings.
RawNickname = Annotated[str, Field(min_length=1, max_length=64)]
RawText = Annotated[str, Field(min_length=1, max_length=1000)]


class ListRoomsPayload(EmptyPayload):
    pass


class JoinPayload(EventSchema):
    room: Slug
    nickname: RawNickname | None = None


class LeavePayload(EventSchema):
    room: Slug


class SendMessagePayload(EventSchema):
    room: Slug
    text: RawText
    client_id: Uuid4Str | None = None


class HistoryPayload(EventSchema):
    room: Slug
    before_id: Annotated[StrictInt, Field(ge=1)]
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 50


class SetNicknamePayload(EventSchema):
    nickname: RawNickname
