"""Signal types as plug-ins (``matching.signals``): every type declares its form, its index,
its upload value and its exchange names; the settings know every type; a process matches by
the types that are on."""

from datetime import UTC, datetime

import pytest

from takedown.config import SIGNAL_TYPE_NAMES, Settings
from takedown.matching import (
    SIGNALS,
    BankIndexes,
    BankPolicy,
    IndexedEntry,
    Indexing,
    InvalidSignal,
    SignalType,
    from_exchange,
    name_in,
    normalize,
    registry_values,
    upload_values,
)
from takedown.matching.banks import Bank
from takedown.matching.signals import parse_enabled
from takedown.media import hash_image
from takedown.services.scanning import match_hashes
from tests.media_support import encode, photo


def test_every_signal_type_is_a_plug_in_the_settings_know():
    assert set(SIGNALS) == set(SignalType)
    assert {t.value for t in SignalType} == SIGNAL_TYPE_NAMES
    for t, signal in SIGNALS.items():
        assert signal.type is t
        assert normalize(t, "AB" * (signal.hex_digits // 2)) == "ab" * (signal.hex_digits // 2)
        with pytest.raises(InvalidSignal, match=f"a {t} hash is {signal.hex_digits} hex"):
            normalize(t, "xyz")


def test_exchange_names_read_both_ways():
    assert from_exchange("stopncii", "ImagePDQ") is SignalType.pdq
    assert from_exchange("stopncii", "VideoMD5") is SignalType.video_md5
    assert from_exchange("stopncii", "VideoTMK") is None
    assert from_exchange("ncmec", "video:md5") is SignalType.video_md5
    assert from_exchange("pytx", "photo_md5") is SignalType.md5
    assert name_in("ncmec_feedback", SignalType.pdq) == "PDQ"
    assert name_in("stopncii", SignalType.sha256) is None


def test_an_upload_and_a_registered_item_give_each_type_its_value():
    hashes = hash_image(encode(photo("coffee.png"), quality=90))
    values = upload_values(hashes)
    assert values == {
        SignalType.pdq: hashes.pdq.hex,
        SignalType.md5: hashes.md5,
        SignalType.sha256: hashes.sha256,
        SignalType.video_md5: hashes.md5,
    }
    assert upload_values(hashes, {SignalType.sha256}) == {SignalType.sha256: hashes.sha256}
    row = {"pdq": hashes.pdq.hex, "md5": hashes.md5, "pdq_variants": "x"}
    assert registry_values(row) == {
        SignalType.pdq: hashes.pdq.hex,
        SignalType.md5: hashes.md5,
        SignalType.video_md5: hashes.md5,
    }
    assert {s.indexing for s in SIGNALS.values()} == set(Indexing)


def test_a_process_matches_by_the_signal_types_that_are_on():
    hashes = hash_image(encode(photo("coffee.png"), quality=90))
    bank = Bank(1, "b", "", BankPolicy.block, 31, True, datetime.now(UTC))
    indexes = BankIndexes()
    indexes.put_bank(bank)
    indexes.add([IndexedEntry(7, 1, SignalType.md5, hashes.md5, True)])
    assert [m.entry_id for m in match_hashes(indexes, hashes)[0]] == [7]
    assert match_hashes(indexes, hashes, frozenset({SignalType.pdq}))[0] == []
    assert parse_enabled("pdq, MD5") == {SignalType.pdq, SignalType.md5}
    assert parse_enabled("") == set(SignalType)
    with pytest.raises(ValueError, match="unknown signal types"):
        parse_enabled("pdq,tmk")
    with pytest.raises(ValueError, match="unknown signal types"):
        Settings(signal_types="pdq,tmk")
