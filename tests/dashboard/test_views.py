"""The vote map's pages over HTTP: rendering, the demo bot's parameter, staff
controls, the presenter's QR code, CSP and translations."""

import base64
import json
import re
from urllib.parse import unquote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dashboard.views import AUTO_VOTE_MAX_MS, AUTO_VOTE_MIN_MS, parse_auto_vote

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="vm-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page passes its configuration with json_script"
    return json.loads(match.group(1))


def test_map_page_renders_with_its_bundle_and_controls(client: Client) -> None:
    response = client.get("/map/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "build/dashboard.js" in html
    assert "css/dashboard.css" in html
    for element_id in ("vm-map", "vm-up", "vm-down", "vm-search", "vm-list", "vm-top", "vm-feedback", "vm-legend"):
        assert f'id="{element_id}"' in html
    assert 'id="connection-badge"' in html
    assert 'role="combobox"' in html and 'role="listbox"' in html
    config = config_of(response)
    assert config == {"namespace": "/map-dashboard", "autoVoteMs": None, "isStaff": False}
    assert "sessionid" in response.cookies


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000", 1000),
        ("250", 250),
        (" 750 ", 750),
        ("1500.6", 1501),
        ("5", AUTO_VOTE_MIN_MS),
        ("0", AUTO_VOTE_MIN_MS),
        ("-300", AUTO_VOTE_MIN_MS),
        ("999999999", AUTO_VOTE_MAX_MS),
        ("1e308", AUTO_VOTE_MAX_MS),
        ("abc", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        ("-inf", None),
        ("0x10", None),
        ("1" * 40, None),
        ("<script>", None),
    ],
)
def test_auto_vote_is_clamped_or_ignored(client: Client, raw: str, expected: int | None) -> None:
    assert parse_auto_vote(raw) == expected
    response = client.get("/map/", {"auto_vote": raw})
    assert response.status_code == 200
    assert config_of(response)["autoVoteMs"] == expected


def test_auto_vote_absent_or_repeated(client: Client) -> None:
    assert parse_auto_vote(None) is None
    response = client.get("/map/?auto_vote=300&auto_vote=x&other=%ff")
    assert response.status_code == 200
    assert config_of(response)["autoVoteMs"] is None  # the last value counts


def test_json_script_escapes_the_configuration(client: Client) -> None:
    html = client.get("/map/", {"auto_vote": "</script><b>"}).content.decode()
    assert "</script><b>" not in html


def test_staff_see_the_reset_button_others_do_not(client: Client) -> None:
    assert 'id="vm-reset"' not in client.get("/map/").content.decode()

    user_model = get_user_model()
    user = user_model.objects.create_user("visitor", password="pw")
    client.force_login(user)
    response = client.get("/map/")
    assert 'id="vm-reset"' not in response.content.decode()
    assert config_of(response)["isStaff"] is False

    staff = user_model.objects.create_user("organiser", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get("/map/")
    assert 'id="vm-reset"' in response.content.decode()
    assert config_of(response)["isStaff"] is True


def test_presenter_has_a_qr_code_of_the_voting_url(client: Client) -> None:
    response = client.get("/map/present/", HTTP_HOST="localhost")
    assert response.status_code == 200
    html = response.content.decode()
    assert "build/dashboard_present.js" in html
    assert "http://localhost/map/" in html
    match = re.search(r'<img class="vm-qr" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, "the QR code is an inline data: image"
    svg = base64.b64decode(match.group(1)).decode()
    assert svg.startswith("<svg") and "<path" in svg
    assert "<script" not in svg
    assert config_of(response)["voteUrl"] == "http://localhost/map/"
    for element_id in ("vm-map", "vm-top", "vm-legend"):
        assert f'id="{element_id}"' in html
    assert "data-vm-viewers" in html


def test_qr_code_decodes_to_the_voting_url(client: Client) -> None:
    # segno builds the symbol; check the matrix it encodes carries the URL.
    import segno

    from dashboard.views import qr_data_uri

    uri = qr_data_uri("http://example.org/map/")
    expected = segno.make("http://example.org/map/", error="m", micro=False)
    buffer = __import__("io").BytesIO()
    expected.save(buffer, kind="svg", scale=8, border=2, dark="#000000", light="#ffffff", xmldecl=False)
    assert base64.b64decode(uri.split(",", 1)[1]) == buffer.getvalue()
    assert expected.designator.endswith("-M")


@pytest.mark.parametrize("path", ["/map/", "/map/present/"])
def test_pages_send_a_strict_csp_and_no_inline_code(client: Client, path: str) -> None:
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.content.decode()
    assert "<script>" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers


@pytest.mark.parametrize("path", ["/map/", "/map/present/"])
def test_pages_only_answer_get(client: Client, path: str) -> None:
    assert client.post(path).status_code == 405


def test_pages_in_spanish(client: Client) -> None:
    html = client.get("/map/", headers={"accept-language": "es"}).content.decode()
    assert "Vota por tu provincia" in html
    assert "Buscar una provincia" in html
    present = client.get("/map/present/", headers={"accept-language": "es"}).content.decode()
    assert "Vota desde tu móvil" in present


def test_javascript_catalog_has_the_map_strings_in_spanish(client: Client) -> None:
    js = client.get("/jsi18n/", headers={"accept-language": "es"}).content.decode()
    assert "Demasiados votos" in js
    assert "cerrada ahora mismo" in js


def test_presenter_qr_uses_the_public_url_when_set(client: Client, settings) -> None:
    settings.DASHBOARD_PUBLIC_URL = "https://vote.example.org/"
    html = client.get("/map/present/", HTTP_HOST="localhost").content.decode()
    assert "https://vote.example.org/map/" in html
    assert "only works on this computer" not in html
    assert config_of(client.get("/map/present/"))["voteUrl"] == "https://vote.example.org/map/"


@pytest.mark.parametrize("value", ["", "not a url", "ftp://vote.example.org", "https://"])
def test_presenter_ignores_an_unusable_public_url(client: Client, settings, value: str) -> None:
    settings.DASHBOARD_PUBLIC_URL = value
    response = client.get("/map/present/", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert config_of(response)["voteUrl"] == "http://localhost/map/"
    assert "only works on this computer" in response.content.decode()  # loopback: the audience cannot reach it


def test_presenter_on_a_public_host_has_no_loopback_warning(client: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["vote.example.org"]
    html = client.get("/map/present/", HTTP_HOST="vote.example.org").content.decode()
    assert "http://vote.example.org/map/" in html
    assert "only works on this computer" not in html
