"""Switching the language with the menu every page carries (Django's set_language view)."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no <html lang>"
    return match.group(1)


def language_form(html: str) -> tuple[str, dict[str, str]]:
    """The language menu of the page: its action and its hidden fields."""
    form = re.search(r'<form class="lang-form" action="([^"]+)" method="post">(.*?)</form>', html, re.S)
    assert form, "no language menu on the page"
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
    assert {"csrfmiddlewaretoken", "next"} <= set(fields), fields
    options = re.findall(r'<option value="([^"]+)"', form.group(2))
    assert options == ["en", "es"], options
    return form.group(1), fields


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)  # the menu's POST must carry its CSRF token, as a browser's does


def choose(browser: Client, page: str, language: str):
    html = browser.get(page).content.decode()
    action, fields = language_form(html)
    return browser.post(action, {**fields, "language": language})


def test_the_menu_switches_the_site_to_spanish_and_back(browser):
    first = browser.get("/map/").content.decode()
    assert html_lang(first) == "en" and "Skip to content" in first and "Vote map" in first

    response = choose(browser, "/map/", "es")
    assert response.status_code == 302 and response["Location"] == "/map/"  # back to the page it came from
    assert browser.cookies["django_language"].value == "es"
    for page in ["/map/", "/chat/", "/"]:
        html = browser.get(page).content.decode()
        assert html_lang(html) == "es", page
        assert "Saltar al contenido" in html and "Mapa de votos" in html and "Juego" in html, page
        assert '<option value="es" selected>' in html, page
        assert "Skip to content" not in html, page

    assert choose(browser, "/chat/", "en")["Location"] == "/chat/"
    html = browser.get("/chat/").content.decode()
    assert html_lang(html) == "en" and "Skip to content" in html and "Saltar al contenido" not in html


def test_an_unknown_language_changes_nothing(browser):
    choose(browser, "/", "es")
    choose(browser, "/", "xx")
    assert html_lang(browser.get("/").content.decode()) == "es"


def test_the_menu_refuses_a_post_without_its_csrf_token(browser):
    assert browser.post("/i18n/setlang/", {"language": "es", "next": "/"}).status_code == 403
    assert html_lang(browser.get("/").content.decode()) == "en"


def test_the_browsers_accept_language_is_the_default(browser):
    html = browser.get("/", headers={"Accept-Language": "es-ES,es;q=0.9"}).content.decode()
    assert html_lang(html) == "es" and "Saltar al contenido" in html
