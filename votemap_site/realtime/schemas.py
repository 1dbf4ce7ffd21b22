"""Base classes for event payload schemas (pydantic 2).

Every client-to-server event has one schema. Payloads are validated strictly:
unknown keys, wrong types (no "1" -> 1 coercion) and oversized strings are all
`invalid`. Schemas are frozen so a handler cannot mutate what it was given.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

# The longest string any payload may carry unless a field says less. Engine.IO
# already drops packets above SOCKETIO_MAX_HTTP_BUFFER_SIZE; this keeps a single
# field well below that.
MAX_STRING = 1000


class EventSchema(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, str_max_length=MAX_STRING
    )


class EmptyPayload(EventSchema):
    """For events that take `{}`."""


Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")]
Uuid4Str = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
    ),
]


def describe_validation_error(exc: ValidationError) -> str:
    """A short human message naming the first offending field."""
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "payload"
        if err.get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown key")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid payload"
