"""Writes for the grid game (sync; call through db() from async code)."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import HighScore


def high_score_record(*, arena_id: int, entries: list[tuple[str, str, int]]) -> bool:
    """Keep each player's best score. `entries` are (public player id, name, score).

    One conditional UPDATE per entry (never read-modify-write); a player
    without a row gets one. Returns True when any row changed.
    """
    changed = False
    now = timezone.now()
    with transaction.atomic():
        for player_id, name, score in entries:
            if score <= 0:
                continue
            updated = HighScore.objects.filter(
                arena_id=arena_id, player_id=player_id, score__lt=score
            ).update(score=score, name=name, achieved_at=now)
            if updated:
                changed = True
                continue
            if HighScore.objects.filter(arena_id=arena_id, player_id=player_id).exists():
                continue
            try:
                with transaction.atomic():
                    HighScore.objects.create(
                        arena_id=arena_id, player_id=player_id, name=name, score=score, achieved_at=now
                    )
                changed = True
            except IntegrityError:  # created meanwhile by another worker
                HighScore.objects.filter(
                    arena_id=arena_id, player_id=player_id, score__lt=score
                ).update(score=score, name=name, achieved_at=now)
    return changed
