from django.conf import settings
from django.http import HttpRequest


def realtime(request: HttpRequest) -> dict[str, object]:
    """What the browser's Socket.IO client needs to know about the server."""
    return {
        "socket_transports": ",".join(settings.SOCKETIO_TRANSPORTS),
        "socket_paths": {ns: f"/{path}/" for ns, path in settings.SOCKETIO_NAMESPACE_PATHS.items()},
    }
