import pytest


@pytest.fixture
def provinces(db):
    """The 52 provinces and the voting state row (a transactional test's flush removes
    what the data migration created, so tests create them again)."""
    from dashboard.services import provinces_seed

    provinces_seed()
