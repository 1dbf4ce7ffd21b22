"""Conventions every namespace follows, checked across the apps at once."""

import pathlib
import re

import pytest

from chat.sockets import ChatNamespace
from dashboard.sockets import MapDashboardNamespace
from grid_game.sockets import GridGameNamespace
from votemap_site.realtime.lobby import LobbyNamespace, stats_keys
from votemap_site.realtime.presence import LocalPresence

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("namespace_class", "path", "event", "rate_setting", "burst_setting"),
    [
        (MapDashboardNamespace, "/map-dashboard", "vote", "DASHBOARD_VOTE_RATE", "DASHBOARD_VOTE_BURST"),
        (ChatNamespace, "/chat", "send_message", "CHAT_MESSAGE_RATE", "CHAT_MESSAGE_BURST"),
        (GridGameNamespace, "/grid-game", "move", "GAME_MOVE_RATE", "GAME_MOVE_BURST"),
    ],
)
def test_rate_limits_are_read_when_the_server_is_built(
    settings, namespace_class, path, event, rate_setting, burst_setting
) -> None:
    setattr(settings, rate_setting, 123.0)
    setattr(settings, burst_setting, 45)
    first = namespace_class(path, presence=LocalPresence())
    assert (first.rate_limits[event].per_second, first.rate_limits[event].burst) == (123.0, 45)
    setattr(settings, rate_setting, 7.0)
    setattr(settings, burst_setting, 3)
    second = namespace_class(path, presence=LocalPresence())
    assert (second.rate_limits[event].per_second, second.rate_limits[event].burst) == (7.0, 3)


def test_the_lobby_counts_the_namespaces_of_the_settings(settings) -> None:
    assert stats_keys() == {"map": "/map-dashboard", "chat": "/chat", "game": "/grid-game"}
    settings.SOCKETIO_NAMESPACES = [
        ("/lobby", "votemap_site.realtime.lobby.LobbyNamespace"),
        ("/chat", "chat.sockets.ChatNamespace"),
    ]
    assert LobbyNamespace("/lobby", presence=LocalPresence()).stats_keys == {"chat": "/chat"}


def test_room_and_presence_names_are_built_in_each_apps_rooms_module() -> None:
    by_hand = re.compile(r"""["'](arena:|room:|/chat:|/grid-game:)""")
    offenders = []
    for app in ("dashboard", "chat", "grid_game", "votemap_site"):
        for source in (ROOT / app).rglob("*.py"):
            if source.name == "rooms.py" or "migrations" in source.parts:
                continue
            for number, line in enumerate(source.read_text().splitlines(), 1):
                if by_hand.search(line):
                    offenders.append(f"{source.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
