"""Arenas (managed in the admin) and the persisted all-time high scores.

An arena's live game (players, positions, coins) is in-memory state of the
process that runs it (grid_game/engine.py); the database holds what must
outlive a restart: the arena's configuration and the high scores.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .rules import SYMBOLS


class Arena(models.Model):
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=80)
    width = models.PositiveSmallIntegerField(
        _("columns"), default=20, validators=[MinValueValidator(2), MaxValueValidator(100)]
    )
    height = models.PositiveSmallIntegerField(
        _("rows"), default=10, validators=[MinValueValidator(2), MaxValueValidator(100)]
    )
    max_players = models.PositiveIntegerField(
        _("max players"), default=32, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    coins = models.PositiveSmallIntegerField(
        _("coins on the board"), default=3, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    is_open = models.BooleanField(_("open"), default=True, help_text=_("A closed arena accepts no joins."))
    # Bumped on every admin save; running arenas poll it to pick up changes.
    revision = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("arena")
        verbose_name_plural = _("arenas")

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def clean(self) -> None:
        cells = (self.width or 0) * (self.height or 0)
        if self.coins is not None and cells and self.coins >= cells:
            raise ValidationError({"coins": _("Leave at least one cell without a coin.")})
        if self.max_players and self.max_players > len(SYMBOLS):
            raise ValidationError(
                {"max_players": _("At most %(n)s players: each needs its own symbol.") % {"n": len(SYMBOLS)}}
            )
        if self.max_players and cells and self.max_players + (self.coins or 0) > cells:
            raise ValidationError(
                {"max_players": _("Players plus coins cannot exceed the number of cells (%(cells)s).")
                 % {"cells": cells}}
            )


class HighScore(models.Model):
    """A player's best score in an arena (one row per player identity and arena)."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="high_scores")
    # The player's public id (an HMAC of the session), never a session key or socket id.
    player_id = models.CharField(max_length=32)
    name = models.CharField(_("name"), max_length=16)
    score = models.PositiveIntegerField(_("best score"))
    achieved_at = models.DateTimeField(_("when"))

    class Meta:
        ordering = ["-score", "achieved_at"]
        constraints = [
            models.UniqueConstraint(fields=["arena", "player_id"], name="grid_game_highscore_unique_player")
        ]
        indexes = [models.Index(fields=["arena", "-score", "achieved_at"], name="grid_game_hs_rank")]
        verbose_name = _("high score")
        verbose_name_plural = _("high scores")

    def __str__(self) -> str:
        return f"{self.name}: {self.score}"
