"""The evidence vault's envelope encryption, with no database: sealed bytes are not the
plaintext, a wrong key or an altered item fails loudly, rotation keeps every item readable
without decrypting it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takedown.evidence import BadKey, MasterKey, WrongKey, rewrap, seal, unseal

KEY = MasterKey.from_hex("11" * 32)
OTHER = MasterKey.from_hex("22" * 32)


@given(st.binary(min_size=1, max_size=4096))
def test_what_is_stored_is_not_the_plaintext_and_opens_with_the_key(data):
    sealed = seal(data, KEY, identity="evidence:1:2")
    assert data not in sealed.ciphertext or len(data) < 4
    assert sealed.key_fingerprint == KEY.fingerprint
    assert unseal(sealed, [KEY], identity="evidence:1:2") == data


def test_a_wrong_key_an_altered_item_or_another_identity_fails_loudly():
    sealed = seal(b"picture bytes", KEY, identity="evidence:1:2")
    with pytest.raises(WrongKey, match="not configured"):
        unseal(sealed, [OTHER], identity="evidence:1:2")
    impostor = MasterKey(OTHER.key)
    forged = type(sealed)(sealed.ciphertext, sealed.wrapped_key, impostor.fingerprint)
    with pytest.raises(WrongKey):
        unseal(forged, [impostor], identity="evidence:1:2")
    altered = type(sealed)(
        sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1]),
        sealed.wrapped_key,
        sealed.key_fingerprint,
    )
    with pytest.raises(WrongKey, match="altered"):
        unseal(altered, [KEY], identity="evidence:1:2")
    with pytest.raises(WrongKey):
        unseal(sealed, [KEY], identity="evidence:1:3")  # passed off as another item


def test_rotation_rewraps_the_key_and_leaves_the_media_as_it_was():
    sealed = seal(b"a video", KEY, identity="evidence:4:5")
    rotated = rewrap(sealed, [KEY], OTHER, identity="evidence:4:5")
    assert rotated.ciphertext == sealed.ciphertext  # the media was not re-encrypted
    assert rotated.key_fingerprint == OTHER.fingerprint
    assert unseal(rotated, [OTHER], identity="evidence:4:5") == b"a video"
    with pytest.raises(WrongKey):
        unseal(rotated, [KEY], identity="evidence:4:5")


def test_a_master_key_is_32_bytes():
    for bad in ("", "zz" * 32, "11" * 31):
        with pytest.raises(BadKey):
            MasterKey.from_hex(bad)
    assert len(MasterKey.new().hex) == 64
