import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health, metrics


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
            "not configured" if not (settings.MESSAGE_QUEUE_URL or settings.REDIS_URL)
            else ("ok" if queue is None else f"failed: {queue}")
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


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (votemap_site/metrics.py) for active staff, or for a
    scraper that sends `Authorization: Bearer <METRICS_TOKEN>`. Anyone else gets
    a bare 403 (401 for a wrong token), never a hint of what is measured."""
    token = _bearer_token(request)
    if token is not None:
        expected = settings.METRICS_TOKEN
        # compare_digest: the time taken does not tell how much of a guess was right.
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not (request.user.is_authenticated and request.user.is_active and request.user.is_staff):
        return HttpResponse(status=403)
    body, content_type = metrics.scrape()
    return HttpResponse(body, content_type=content_type)
