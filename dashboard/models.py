"""Vote map data: provinces with their counters, the vote log, the voting state.

Counters are only written by dashboard.services (group commit, resets), always
inside a transaction that also advances `VotingState.version` (when counts
change) or `VotingState.revision` (any change clients must see as a fresh
snapshot). Nothing here emits: the namespace notices those numbers change.
"""

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

STATE_PK = 1


class Province(models.Model):
    code = models.CharField(
        _("INE code"), max_length=2, primary_key=True, help_text=_("Two-digit INE province code, e.g. 28.")
    )
    name = models.CharField(_("official name"), max_length=64, unique=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive provinces are hidden from the map and refuse votes.")
    )
    votes = models.PositiveBigIntegerField(_("votes"), default=0)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")
        constraints = [
            # Portable SQL (no REGEXP, which plain sqlite3 tools lack): two characters from "00" to "99".
            models.CheckConstraint(
                condition=models.Q(Exact(Length("code"), 2), code__gte="00", code__lte="99"), name="province_code_2_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Vote(models.Model):
    class Direction(models.TextChoices):
        UP = "up", _("up")
        DOWN = "down", _("down")

    # The client's idempotency key (server-generated when the client sent none).
    vote_id = models.UUIDField(_("vote id"), unique=True, editable=False)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="vote_log")
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    # The change the vote actually made: +1, -1, or 0 when the floor at zero absorbed a `down`.
    applied = models.SmallIntegerField(_("applied change"), default=0)
    # Opaque public id of the voter's session (an HMAC), never the session key itself.
    voter = models.CharField(_("voter"), max_length=32, db_index=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        indexes = [models.Index(fields=["province", "created_at"], name="vote_province_time")]

    def __str__(self) -> str:
        return f"{self.direction} {self.province_id} ({self.vote_id})"


class VotingState(models.Model):
    """The single row (pk=1) with the open/closed switch and the change counters."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=STATE_PK, editable=False)
    is_open = models.BooleanField(_("voting open"), default=True)
    # Site-wide version of the `votes` deltas: +1 per committed batch that changed a
    # count, and +1 for a reset; snapshots carry it.
    version = models.PositiveBigIntegerField(_("version"), default=0, editable=False)
    # +1 for every change that clients must receive as a fresh `snapshot`
    # (open/close, resets, provinces edited in the admin).
    revision = models.PositiveBigIntegerField(_("revision"), default=0, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("voting state")
        verbose_name_plural = _("voting state")
        constraints = [models.CheckConstraint(condition=models.Q(id=STATE_PK), name="voting_state_singleton")]

    def __str__(self) -> str:
        return str(_("Voting open") if self.is_open else _("Voting closed"))
