"""The PDQ index is exact: every planted match found, no near-miss returned, against a
brute-force scan, for random and for clustered banks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.matching import EXACT_UP_TO, PdqIndex, hashes_to_words


def to_hex(words) -> str:
    return "".join(f"{int(w):016x}" for w in words)


def flip(words, bits):
    out = words.copy()
    for b in bits:
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def brute(words, active, query_hex, threshold):
    q = hashes_to_words([query_hex])[0]
    d = np.bitwise_count(words ^ q).sum(axis=1)
    hits = np.nonzero((d <= threshold) & active)[0]
    return sorted(((int(i), int(d[i])) for i in hits), key=lambda t: (t[1], t[0]))


def random_words(rng, n):
    return rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)


def test_exact_radius_is_31():
    assert EXACT_UP_TO == 31


@pytest.fixture(scope="module")
def bank():
    rng = np.random.default_rng(7)
    words = random_words(rng, 200_000)
    # A clustered family, as real banks have: many near-identical hashes.
    base = words[0]
    for i in range(1, 400):
        words[i] = flip(base, rng.choice(256, rng.integers(0, 12), replace=False))
    return words, PdqIndex.build(np.arange(len(words)), words)


def test_planted_matches_found_and_near_misses_not(bank):
    words, index = bank
    rng = np.random.default_rng(1)
    for distance in list(range(0, 32)) + list(range(32, 41)):
        target = int(rng.integers(400, len(words)))
        query = to_hex(flip(words[target], rng.choice(256, distance, replace=False)))
        found = dict(index.search(query, 31))
        if distance <= 31:
            assert found.get(target) == distance
        else:
            assert target not in found
        assert index.search(query, 31) == brute(words, np.ones(len(words), bool), query, 31)


def test_clustered_family_is_returned_whole_and_exactly(bank):
    words, index = bank
    query = to_hex(flip(words[0], [3, 77, 200]))
    result = index.search(query, 31)
    assert len(result) >= 399
    assert result == brute(words, np.ones(len(words), bool), query, 31)


@settings(max_examples=40, deadline=None)
@given(threshold=st.integers(0, 31), seed=st.integers(0, 10_000))
def test_every_threshold_up_to_31_is_exact(bank, threshold, seed):
    words, index = bank
    rng = np.random.default_rng(seed)
    target = int(rng.integers(len(words)))
    query = to_hex(flip(words[target], rng.choice(256, int(rng.integers(0, 40)), replace=False)))
    assert index.search(query, threshold) == brute(
        words, np.ones(len(words), bool), query, threshold
    )


def test_thresholds_above_31_fall_back_to_an_exact_scan():
    rng = np.random.default_rng(3)
    words = random_words(rng, 5000)
    index = PdqIndex.build(np.arange(5000), words)
    query = to_hex(flip(words[10], rng.choice(256, 45, replace=False)))
    result = index.search(query, 50)
    assert (10, 45) in result
    assert result == brute(words, np.ones(5000, bool), query, 50)


def test_added_and_disabled_entries_count_at_the_next_lookup_without_rebuild():
    rng = np.random.default_rng(4)
    words = random_words(rng, 3000)
    index = PdqIndex.build(np.arange(3000), words)
    new = random_words(rng, 2)
    index.add([5000, 5001], [to_hex(new[0]), to_hex(new[1])])
    assert index.search(to_hex(flip(new[0], [1, 2, 3])), 31) == [(5000, 3)]
    assert index.set_active(5000, False)
    assert index.search(to_hex(new[0]), 31) == []
    assert index.set_active(17, False)
    assert 17 not in dict(index.search(to_hex(words[17]), 31))
    index.set_active(5000, True)
    index.compact()  # folding the tail into the tables changes no answer
    assert index.search(to_hex(new[0]), 31) == [(5000, 0)]
    assert 17 not in dict(index.search(to_hex(words[17]), 31))
    assert not index.set_active(999_999, False)
    assert len(index) == 3001


def test_re_adding_an_entry_replaces_its_hash():
    rng = np.random.default_rng(5)
    words = random_words(rng, 100)
    index = PdqIndex.build(np.arange(100), words)
    moved = random_words(rng, 1)[0]
    index.add([7], [to_hex(moved)])
    assert index.search(to_hex(words[7]), 0) == []
    assert index.search(to_hex(moved), 0) == [(7, 0)]


def test_empty_index_and_bad_threshold():
    index = PdqIndex()
    assert index.search("0" * 64, 31) == []
    with pytest.raises(ValueError):
        index.search("0" * 64, 300)
