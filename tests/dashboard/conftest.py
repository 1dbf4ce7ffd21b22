import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "map_settings(**values): Django settings applied before the live server is built"
    )


@pytest.fixture(autouse=True)
def _map_settings(request, settings):
    """Apply `@pytest.mark.map_settings(DASHBOARD_VOTE_BURST=...)` before `live_site` builds the server
    (the namespace reads its rate limits and tick when it is constructed)."""
    marker = request.node.get_closest_marker("map_settings")
    if marker:
        for name, value in marker.kwargs.items():
            setattr(settings, name, value)


@pytest.fixture
def provinces(db):
    """The 52 provinces and the voting state row (a transactional test's flush removes
    what the data migration created, so tests create them again)."""
    from dashboard.services import provinces_seed

    provinces_seed()


def grant(user, codename="change_votingstate"):
    """Give `user` a model permission (the one the admin's reset action needs by default)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(content_type__app_label="dashboard", codename=codename))
    return user


@pytest.fixture
def staff_user(db, django_user_model):
    """A staff user with the rights of the admin's "Reset ALL votes" action."""
    return grant(django_user_model.objects.create_user("organiser", password="pw-for-tests-only", is_staff=True))


@pytest.fixture
def plain_user(db, django_user_model):
    return django_user_model.objects.create_user("visitor", password="pw-for-tests-only")
