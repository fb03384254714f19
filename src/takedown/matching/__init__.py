"""Matching: hash banks' indexes. PDQ within a distance (exact), MD5 and SHA-256 exact."""

from takedown.matching.pdq_index import EXACT_UP_TO, PdqIndex, hashes_to_words

__all__ = ["EXACT_UP_TO", "PdqIndex", "hashes_to_words"]
