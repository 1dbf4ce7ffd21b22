"""Pages: the arena list and one arena's board."""

from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import selectors
from .models import Arena
from .rooms import presence_key

# ?auto_move=<ms>: the demo bot's interval, clamped to this range.
AUTO_MOVE_MIN_MS = 100
AUTO_MOVE_MAX_MS = 5000


def parse_auto_move(raw: str | None) -> int | None:
    """None (bot off) for a missing or unreadable value, else clamped milliseconds."""
    if raw is None or raw == "":
        return None
    try:
        value = int(float(raw.strip()[:20]))
    except (ValueError, OverflowError):
        return None
    if value <= 0:
        return None
    return max(AUTO_MOVE_MIN_MS, min(AUTO_MOVE_MAX_MS, value))


def players_online(slugs: list[str]) -> dict[str, int]:
    """Connected players per arena over all workers (presence), {} when unknown."""
    try:
        from votemap_site.realtime.server import current

        namespace = current().namespace("/grid-game")
    except (RuntimeError, KeyError):
        return {}

    async def totals() -> dict[str, int]:
        return {slug: await namespace.presence.total(presence_key(slug)) for slug in slugs}

    try:
        return async_to_sync(totals)()
    except Exception:
        return {}


@require_GET
def arena_list(request: HttpRequest) -> HttpResponse:
    arenas = selectors.arena_list()
    online = players_online([a.slug for a in arenas])
    rows = [{"arena": a, "online": online.get(a.slug, 0)} for a in arenas]
    return render(request, "grid_game/index.html", {"rows": rows})


@require_GET
def arena_page(request: HttpRequest, slug: str) -> HttpResponse:
    arena = get_object_or_404(Arena, slug=slug)
    config: dict[str, Any] = {
        "namespace": "/grid-game",
        "arena": {"slug": arena.slug, "name": arena.name, "width": arena.width, "height": arena.height,
                  "open": arena.is_open},
        "auto_move": parse_auto_move(request.GET.get("auto_move")),
        "high_scores": selectors.high_score_top(arena_id=arena.pk),
    }
    return render(request, "grid_game/arena.html", {"arena": arena, "config": config,
                                                    "rows": range(arena.height), "cols": range(arena.width)})
