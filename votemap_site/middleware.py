"""Every page view gets a Django session, because the realtime server derives
identity (names, colours, rate-limit keys, game seats) from the session cookie."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class EnsureSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if (
            request.method == "GET"
            and response.status_code == 200
            and content_type.startswith("text/html")
            and request.session.session_key is None
        ):
            # Saving creates the key; marking it modified makes SessionMiddleware
            # (the outer middleware) send the cookie with this response.
            request.session.save()
            request.session.modified = True
        return response
