"""Who is behind a Socket.IO connection: derived from the Django session cookie.

The server never trusts a name or id in a payload. A browser brings the
session cookie created on its first page view; a client without one (a script,
a load test) is an anonymous visitor identified by its connection alone.
"""

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user


@dataclass(frozen=True, slots=True)
class Identity:
    # Stable key for ownership: "s:<session key>" or "c:<Engine.IO connection id>"
    # (a cookie-less client is one connection, whichever namespaces it rejoins).
    key: str
    # The Django session key, None for an anonymous connection.
    session_key: str | None
    user_id: int | None
    username: str | None
    is_staff: bool
    # Safe to show to other clients: an HMAC of `key`, never a sid or session key.
    public_id: str

    @property
    def has_session(self) -> bool:
        return self.session_key is not None


def public_id_for(key: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def anonymous_identity(connection: str) -> Identity:
    key = "c:" + connection
    return Identity(
        key=key, session_key=None, user_id=None, username=None, is_staff=False,
        public_id=public_id_for(key),
    )


def session_key_from_environ(environ: dict[str, Any]) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    if not raw:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(raw)
    except CookieError:
        return None
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    if morsel is None or not morsel.value or len(morsel.value) > 64:
        return None
    return morsel.value


def _session_store(session_key: str | None):  # type: ignore[no-untyped-def]
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key)


def identity_resolve(*, connection: str, session_key: str | None) -> Identity:
    """Sync (runs through db()): load the session and, if logged in, the user."""
    if session_key is None:
        return anonymous_identity(connection)
    store = _session_store(session_key)
    if not store.exists(session_key):
        # Unknown or expired cookie: do not adopt a key the server never issued.
        return anonymous_identity(connection)
    user = get_user(SimpleNamespace(session=store))  # verifies the session auth hash
    is_authenticated = bool(getattr(user, "is_authenticated", False))
    key = "s:" + session_key
    return Identity(
        key=key,
        session_key=session_key,
        user_id=user.pk if is_authenticated else None,
        username=user.get_username() if is_authenticated else None,
        is_staff=bool(is_authenticated and user.is_active and user.is_staff),
        public_id=public_id_for(key),
    )


def session_get(*, session_key: str, name: str, default: Any = None) -> Any:
    """Sync: read one value from a session."""
    return _session_store(session_key).get(name, default)


def session_set(*, session_key: str, name: str, value: Any) -> None:
    """Sync: store one value in a session (for example a chosen nickname)."""
    store = _session_store(session_key)
    if not store.exists(session_key):
        return
    store[name] = value
    store.save()


def identities_resolve(*, requests: list[tuple[str, str | None]]) -> list[Identity]:
    """Sync (runs through db()): `identity_resolve` for each (connection, session key)."""
    return [identity_resolve(connection=connection, session_key=key) for connection, key in requests]


class IdentityResolver:
    """Identities for new connections, without one database round trip each.

    A join storm (a room scanning the QR code) brings hundreds of connections a
    second. An anonymous one needs no database at all (its identity is derived
    from the connection id). Session lookups that arrive while one is in flight
    wait for the next one, which resolves them all in one call of `run`
    (db(): one hop to the database thread, not one per connection, each of which
    would wait its turn behind the group commits).
    """

    def __init__(self, *, run: Callable[..., Awaitable[list[Identity]]], max_batch: int = 256) -> None:
        self._run = run
        self.max_batch = max_batch
        self._waiting: list[tuple[str, str, asyncio.Future[Identity]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # calls of `run` (tests)

    async def resolve(self, *, connection: str, session_key: str | None) -> Identity:
        if session_key is None:
            return anonymous_identity(connection)
        future: asyncio.Future[Identity] = asyncio.get_running_loop().create_future()
        self._waiting.append((connection, session_key, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            live = [(c, k, f) for c, k, f in batch if not f.done()]  # a cancelled connect needs nothing
            if not live:
                continue
            self.batches += 1
            try:
                identities = await self._run(identities_resolve, requests=[(c, k) for c, k, _ in live])
            except Exception as exc:
                for _, _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), identity in zip(live, identities, strict=True):
                if not future.done():
                    future.set_result(identity)
