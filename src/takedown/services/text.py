"""Text as it enters: trimmed, bounded, and free of what no document can carry."""

from __future__ import annotations

import re

from takedown.services.errors import InvalidInput

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: str | None, field_name: str, limit: int) -> str | None:
    """``value`` trimmed, None when empty. Raises ``InvalidInput`` naming ``field_name`` when it
    is longer than ``limit`` or holds a control character or a character XML forbids (U+FFFE,
    U+FFFF, an unpaired surrogate), which would otherwise reach a CyberTipline report."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise InvalidInput(f"{field_name} must be at most {limit} characters", field=field_name)
    # Printable ASCII, the usual text, holds none of them; only other text is searched.
    if not (value.isascii() and value.isprintable()) and _CONTROL.search(value):
        raise InvalidInput(
            f"{field_name} has control characters or characters no document can carry "
            "(U+FFFE, U+FFFF, unpaired surrogates)",
            field=field_name,
        )
    return value
