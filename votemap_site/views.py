from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = health.check_database()
    queue = health.check_message_queue()
    checks = {
        "database": "ok" if database is None else f"failed: {database}",
        "message_queue": (
            "not configured" if not settings.REDIS_URL else ("ok" if queue is None else f"failed: {queue}")
        ),
    }
    healthy = database is None and queue is None
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable", "checks": checks}
    realtime = health.realtime_status()
    if realtime is not None:
        body["realtime"] = realtime
    return JsonResponse(
        body,
        status=200 if healthy else 503,
    )
