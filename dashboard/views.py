"""Pages of the vote map: the voting page and the presenter view.

The pages carry no counts: the browser gets everything live from the
`/map-dashboard` namespace (a `snapshot` on connect, then `votes` deltas).
The views only pass configuration through `json_script`.
"""

import base64
import io
import math
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

NAMESPACE = "/map-dashboard"

# Demo bot (`?auto_vote=<ms>`): mean interval between votes, clamped.
AUTO_VOTE_MIN_MS = 100
AUTO_VOTE_MAX_MS = 60_000


def parse_auto_vote(raw: str | None) -> int | None:
    """The demo bot's interval in ms, or None when the parameter is absent or not a number.

    Numbers are clamped to AUTO_VOTE_MIN_MS..AUTO_VOTE_MAX_MS ("5" -> 100,
    "10e9" -> 60000); anything else ("abc", "", "nan", "inf") turns the bot off.
    """
    if raw is None:
        return None
    raw = raw.strip()
    if not raw or len(raw) > 32:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(min(max(round(value), AUTO_VOTE_MIN_MS), AUTO_VOTE_MAX_MS))


def qr_data_uri(text: str) -> str:
    """A QR code of `text` as an SVG data: URI (the CSP allows img data:, not inline styles)."""
    qr = segno.make(text, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=8, border=2, dark="#000000", light="#ffffff", xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def voting_url(request: HttpRequest) -> str:
    """Absolute URL of the voting page for the QR code: DASHBOARD_PUBLIC_URL when
    set (the address the audience reaches), otherwise built from the request."""
    path = reverse("dashboard:map")
    public = settings.DASHBOARD_PUBLIC_URL.strip()
    parts = urlsplit(public)
    if parts.scheme in {"http", "https"} and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}{path}"
    return request.build_absolute_uri(path)


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    config = {
        "namespace": NAMESPACE,
        "autoVoteMs": parse_auto_vote(request.GET.get("auto_vote")),
        "isStaff": bool(request.user.is_authenticated and request.user.is_staff),
    }
    return render(request, "dashboard/map.html", {"config": config, "is_staff": config["isStaff"]})


@require_GET
def present_page(request: HttpRequest) -> HttpResponse:
    vote_url = voting_url(request)
    config = {"namespace": NAMESPACE, "voteUrl": vote_url}
    return render(
        request,
        "dashboard/present.html",
        {
            "config": config,
            "vote_url": vote_url,
            "qr_src": qr_data_uri(vote_url),
            "loopback": is_loopback(vote_url),
        },
    )
