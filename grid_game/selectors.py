"""Reads for the grid game (sync; call through db() from async code)."""

from django.db.models import Count, Max, Sum

from .engine import ArenaInfo
from .models import Arena, HighScore


def _config(arena: Arena) -> ArenaInfo:
    return ArenaInfo(
        id=arena.pk, slug=arena.slug, name=arena.name, width=arena.width, height=arena.height,
        max_players=arena.max_players, coins=arena.coins, is_open=arena.is_open, revision=arena.revision,
    )


def arena_get(*, slug: str) -> ArenaInfo | None:
    arena = Arena.objects.filter(slug=slug).first()
    return _config(arena) if arena else None


def arena_list() -> list[ArenaInfo]:
    return [_config(a) for a in Arena.objects.all()]


def arena_revisions(*, slugs: list[str]) -> dict[str, ArenaInfo]:
    """The current configuration of the given arenas (deleted ones are absent)."""
    return {a.slug: _config(a) for a in Arena.objects.filter(slug__in=slugs)}


def arena_marker() -> tuple[int, int, int]:
    """What the game's watcher polls: (arenas, highest id, sum of revisions), one row.

    Every admin change bumps its arena's revision (so the sum grows), a
    deletion lowers the count, and a new arena has a higher id than any
    before it: any change that loaded arenas must apply moves the marker.
    """
    row = Arena.objects.aggregate(n=Count("id"), last=Max("id"), revisions=Sum("revision"))
    return (row["n"], row["last"] or 0, row["revisions"] or 0)


def high_score_top(*, arena_id: int, limit: int = 10) -> list[dict[str, object]]:
    rows = HighScore.objects.filter(arena_id=arena_id).order_by("-score", "achieved_at")[:limit]
    return [
        {"name": r.name, "score": r.score,
         "at": r.achieved_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        for r in rows
    ]
