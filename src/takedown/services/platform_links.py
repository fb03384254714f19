"""Links to the platform's content, resolved by the platform (the platform contract's
resolve call, ``docs/integrating.md``).

People who see their own picture often report its link, not an id they cannot see. Where the
platform serves ``TAKEDOWN_PLATFORM_RESOLVE_URL``, takedown asks it which content a link
shows: ``GET <resolve url>?url=<the link>``, signed like every request to the platform (a
request with no body signs ``"GET <path and query>"``). The platform answers 200 with
``{"content_id": "...", "account_id": "..."}`` (the account optional), or 404 when the link
is not one of its items. The report then joins the case of that content like any report
about it, and its reporter follows that case.

Anything else (no setting, a timeout, a 5xx, an answer that does not parse) leaves the link
unresolved: the report stands for its link alone (``url:…``), and the case says so; nothing
calls it gone. A report is never held up for longer than ``TIMEOUT`` seconds by this.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from takedown import outbound
from takedown.identity import SIGNATURE_HEADER, sign, signed_payload

log = logging.getLogger(__name__)

TIMEOUT = 3.0
MAX_ANSWER = 64 * 1024
UNRESOLVED_PREFIX = "url:"


def is_unresolved(content_id: str) -> bool:
    """Whether ``content_id`` stands for a link the platform did not match to its content."""
    return content_id.startswith(UNRESOLVED_PREFIX)


@dataclass(frozen=True)
class Resolved:
    content_id: str
    account_id: str | None = None


@dataclass(frozen=True)
class LinkResolver:
    url: str
    secret: str
    timeout: float = TIMEOUT

    def resolve(self, link: str, *, now: float) -> Resolved | None:
        """The platform's content behind ``link``, or None (not its content, or no answer)."""
        if not link.lower().startswith(("http://", "https://")):
            return None
        joiner = "&" if urllib.parse.urlsplit(self.url).query else "?"
        url = f"{self.url}{joiner}{urllib.parse.urlencode({'url': link})}"
        parts = urllib.parse.urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        signature = sign(self.secret, signed_payload("GET", target, b""), now=now)
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            url, method="GET", headers={SIGNATURE_HEADER: signature}
        )
        try:
            with outbound.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                log.warning("the platform's resolve call answered %s", exc.code)
            return None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            log.warning("the platform's resolve call failed: %s", exc)
            return None
        try:
            answer = json.loads(body[:MAX_ANSWER])
            content_id = answer["content_id"]
            account_id = answer.get("account_id")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("the platform's resolve call answered something other than its JSON")
            return None
        if not isinstance(content_id, str) or not content_id or len(content_id) > 256:
            return None
        if not isinstance(account_id, str) or not account_id:
            account_id = None
        return Resolved(content_id=content_id, account_id=account_id)
