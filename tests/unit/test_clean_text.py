"""Text as it enters (``services.text.clean_text``): refused exactly when it holds a control
character or a character XML forbids, whichever path the check takes (printable ASCII is
passed without the search)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takedown.services.errors import InvalidInput
from takedown.services.text import clean_text

# The rule, written out apart from the module's own pattern.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

texts = st.one_of(
    st.text(),  # any code point, surrogates and noncharacters included
    st.text(alphabet=st.characters(max_codepoint=0x7F)),  # ASCII, control characters too
    st.text(alphabet=st.sampled_from("ab \t\n\r\x0b\x7f\ufffe\udc80é")),
)


@given(texts)
def test_text_is_refused_exactly_when_it_holds_a_forbidden_character(value: str) -> None:
    trimmed = value.strip()
    if FORBIDDEN.search(trimmed):
        with pytest.raises(InvalidInput, match="control characters"):
            clean_text(value, "description", 10_000)
    else:
        assert clean_text(value, "description", 10_000) == (trimmed or None)


@pytest.mark.parametrize(
    "value",
    ["line one\nline two", "a\ttab", "carriage\r\nreturn", "DEL \x7f kept", "naïve café"],
)
def test_tabs_newlines_and_other_text_pass(value: str) -> None:
    assert clean_text(value, "description", 100) == value


@pytest.mark.parametrize("value", ["bell\x07", "nul\x00", "vt\x0b", "\ufffe", "lone \ud800"])
def test_forbidden_characters_are_refused_with_the_field_named(value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(f"text {value} text", "contact_name", 100)
    assert refused.value.field == "contact_name"
