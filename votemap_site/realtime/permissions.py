"""Rights for privileged realtime events, checked when the event arrives.

An open socket outlives what its session said at connect time: the user may
log out (the session is flushed), be demoted, deactivated or lose a
permission while the page stays open. So a privileged handler does not trust
the `Identity` resolved at connect; it asks the database again, through
`db()`, every time:

    if not await db(staff_permission_check, session_key=identity.session_key,
                    user_id=identity.user_id, permission="dashboard.change_votingstate"):
        raise RealtimeError(FORBIDDEN, "...")

Privileged events are rare (a reset), so one session read and one user read
(plus its permissions) per event is cheap.
"""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user


def staff_permission_check(*, session_key: str | None, permission: str, user_id: int | None = None) -> bool:
    """Sync (call through db()). True when the session still exists and is
    still logged in (its session auth hash still valid), as `user_id` when
    given, to an active staff user who has `permission` ("app_label.codename";
    superusers have every permission)."""
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):
        return False  # logged out (flushed), expired, or never issued
    # get_user verifies the session auth hash (a password change logs out) and
    # returns AnonymousUser when the user is gone or the backend refuses them.
    user = get_user(SimpleNamespace(session=store))
    if not getattr(user, "is_authenticated", False):
        return False
    if user_id is not None and user.pk != user_id:
        return False
    return bool(user.is_active and user.is_staff and user.has_perm(permission))
