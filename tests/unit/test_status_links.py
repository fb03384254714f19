"""The reporter's secrets: form keys the server made are recognised, anything else is not
(and never raises), and status links are stable for the same submission."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from takedown.services import reports

KEY = bytes(range(32))


def test_a_form_key_the_server_made_is_recognised_and_a_changed_one_is_not():
    key = reports.form_key(KEY)
    assert reports.checked_form_key(KEY, key) == key
    nonce, mac = key.split(".")
    assert reports.checked_form_key(KEY, f"{nonce}x.{mac}") is None
    assert reports.checked_form_key(bytes(32), key) is None


@given(st.text(max_size=80))
def test_any_text_as_a_form_key_is_refused_without_an_error(value):
    assert reports.checked_form_key(KEY, value) in (None, value)
    assert reports.checked_form_key(KEY, f"{value}.é") is None


def test_the_same_submission_gets_the_same_status_link():
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    one = reports.status_token(KEY, "api:7", "key-1", at)
    assert one == reports.status_token(KEY, "api:7", "key-1", at)
    assert one != reports.status_token(KEY, "api:7", "key-2", at)
    assert len(reports.status_digest(one)) == 64
