"""The verification snippet in docs/integrating.md works as the docs say: it accepts what
takedown signs and rejects a tampered body, a wrong secret and an old timestamp."""

import re
import time
from pathlib import Path

from takedown.identity import sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrating.md"


def _snippet():
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code, "integrating.md shows how to verify a signature"
    scope: dict = {}
    exec(code.group(1), scope)
    return scope["takedown_signed"]


def test_the_documented_check_accepts_takedowns_signature_and_nothing_else():
    check = _snippet()
    body = b'{"actions": []}'
    now = time.time()
    header = sign("s3cret", body, now=now)
    assert check(header, body, "s3cret")
    assert not check(header, body + b" ", "s3cret")  # tampered body
    assert not check(header, body, "other")  # wrong secret
    assert not check(sign("s3cret", body, now=now - 600), body, "s3cret")  # old timestamp
    assert not check("", body, "s3cret")
