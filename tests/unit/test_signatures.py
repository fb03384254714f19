"""The platform contract's signature: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." +
body>``, checked as a strict receiver would."""

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from takedown.identity import sign, signature_valid

SECRET = "s3cret"
NOW = 1_800_000_000


def test_the_header_is_the_documented_hmac():
    header = sign(SECRET, b'{"a":1}', now=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + b'{"a":1}', hashlib.sha256)
    assert header == f"t={NOW},v1={expected.hexdigest()}"


@given(st.binary(max_size=256))
def test_a_signature_holds_for_its_body_only(body):
    header = sign(SECRET, body, now=NOW)
    assert signature_valid(header, SECRET, body, now=NOW + 10)
    assert not signature_valid(header, SECRET, body + b"x", now=NOW)
    assert not signature_valid(header, "other", body, now=NOW)


def test_stale_malformed_and_missing_signatures_are_refused():
    header = sign(SECRET, b"", now=NOW)
    assert not signature_valid(header, SECRET, b"", now=NOW + 301)
    assert not signature_valid(header, SECRET, b"", now=NOW - 301)
    for bad in (None, "", "t=,v1=", "v1=abc", f"t={NOW}", "garbage", f"t=x,v1={'0' * 64}"):
        assert not signature_valid(bad, SECRET, b"", now=NOW)
    assert not signature_valid(header, "", b"", now=NOW)


def test_any_of_several_v1_values_may_match_while_a_secret_rotates():
    good = sign(SECRET, b"", now=NOW).split(",")[1]
    assert signature_valid(f"t={NOW},v1={'0' * 64},{good}", SECRET, b"", now=NOW)


def test_a_bodyless_request_is_signed_for_its_method_and_path_only():
    from takedown.identity import signed_payload

    payload = signed_payload("get", "/media/post-1", b"")
    assert payload == b"GET /media/post-1"
    header = sign(SECRET, payload, now=NOW)
    assert signature_valid(header, SECRET, b"GET /media/post-1", now=NOW)
    for other in (b"GET /media/post-2", b"DELETE /media/post-1", b"", b"GET /media/post-1?x"):
        assert not signature_valid(header, SECRET, other, now=NOW)
    assert signed_payload("POST", "/hook", b'{"a":1}') == b'{"a":1}'
