"""The Content-Security-Policy every page is served with, read from the live server and parsed."""

import asyncio
import urllib.request

import pytest

pytestmark = [pytest.mark.django_db(transaction=True)]

PAGES = ["/", "/map/", "/chat/", "/chat/cats/", "/game/", "/game/main/", "/admin/login/"]


def parse_policy(header: str) -> dict[str, list[str]]:
    """Directive -> sources, as a browser reads it (CSP3 §2.2.1: names are case-insensitive,
    a repeated directive is ignored, so one here is a mistake worth failing on)."""
    policy: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.split()
        if not tokens:
            continue
        name = tokens[0].lower()
        assert name not in policy, f"directive {name} given twice: {header}"
        policy[name] = tokens[1:]
    return policy


def fetch(url: str) -> tuple[int, list[str], str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get_all("Content-Security-Policy") or [], response.read().decode()


@pytest.fixture
def pages_data(transactional_db):
    from chat.models import Room
    from grid_game.models import Arena

    Room.objects.get_or_create(slug="cats", defaults={"name": "Gatos"})
    Arena.objects.get_or_create(slug="main", defaults={"name": "Main arena"})


def test_parse_policy():
    assert parse_policy("default-src 'self'; IMG-SRC 'self' data:;;") == {
        "default-src": ["'self'"], "img-src": ["'self'", "data:"]}
    with pytest.raises(AssertionError):
        parse_policy("script-src 'self'; script-src *")


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_carries_a_strict_policy(pages_data, live_site, path):
    status, headers, html = await asyncio.to_thread(fetch, live_site.url + path)
    assert status == 200
    assert len(headers) == 1, headers
    policy = parse_policy(headers[0])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    for name, sources in policy.items():
        lowered = [s.lower() for s in sources]
        assert "'unsafe-inline'" not in lowered and "'unsafe-eval'" not in lowered, (name, sources)
        assert "*" not in sources and not any(s.endswith(":") and s != "data:" for s in sources), (name, sources)
    # Nothing on the page needs more than the policy allows: no inline code, no foreign scripts.
    assert " onclick=" not in html and "javascript:" not in html
    for tag in html.split("<script")[1:]:
        head = tag.split(">", 1)[0]
        assert 'src="/' in head or 'type="application/json"' in head, head
