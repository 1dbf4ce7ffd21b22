"""The acknowledgement envelope's error shape."""

from hypothesis import given
from hypothesis import strategies as st

from votemap_site.realtime.errors import RATE_LIMITED, error_ack, ok_ack


def test_ok_and_error_envelopes() -> None:
    assert ok_ack({"a": 1}) == {"ok": True, "data": {"a": 1}}
    assert ok_ack() == {"ok": True, "data": {}}
    assert error_ack("invalid", "bad") == {"ok": False, "error": {"code": "invalid", "message": "bad"}}


@given(wait=st.floats(min_value=0, max_value=3600, allow_nan=False))
def test_retry_after_is_never_zero_and_never_shorter_than_the_wait(wait: float) -> None:
    retry_after = error_ack(RATE_LIMITED, "slow down", retry_after=wait)["error"]["retry_after"]
    assert retry_after >= 0.001
    assert retry_after >= wait - 1e-9
    assert retry_after - wait <= 0.001 + 1e-9 or wait < 0.001
