"""Meta's ThreatExchange (the Graph API's ``threat_updates`` of a privacy group): hashes that
member platforms share, PDQ and MD5 among them.

``--url`` is the privacy group's node, e.g. ``https://graph.facebook.com/v21.0/1234567890``.
``GET {url}/threat_updates/?access_token=…&fields=…&types=…&start_time=…&limit=…`` answers
``{"data": [{id, indicator, type, last_updated, should_delete, tags}], "paging": {"next": URL}}``;
``next`` is followed until there is none. An update is the indicator's whole current state: a
later one replaces the earlier, and ``should_delete`` means it is gone (it stops matching).
Types taken: ``HASH_PDQ`` (``pdq``), ``HASH_MD5`` (``md5``, or ``video_md5`` when tagged
``media_type_video``) and ``HASH_VIDEO_MD5`` (``video_md5``). Credentials: ``{"access_token"}``
(an app's ``app_id|secret``). The checkpoint is the latest ``last_updated`` of a pass read to its
end; while a pass pages, the ``next`` address too, kept without the token (it is added again
when it is followed), and followed only on the configured host. No feedback: ThreatExchange's
reactions are not sent.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from takedown.matching import SIGNALS, InvalidSignal, SignalType, from_exchange, normalize
from takedown.matching.exchanges import (
    ExchangeEntry,
    ExchangeError,
    ExchangeRefused,
    FeedbackItem,
    Page,
)
from takedown.services.exchanges.http import call

FIELDS = "id,indicator,type,last_updated,should_delete,tags"
# The indicator types asked for: every signal type's ThreatExchange names.
TYPES = [n for s in SIGNALS.values() for n in s.names.get("threatexchange", ())]
PAGE_SIZE = 1000


class ThreatExchangeClient:
    takes_feedback = False

    def __init__(self, url: str, credentials: Mapping[str, Any]):
        self._url = url.rstrip("/")
        self._token = str(credentials.get("access_token", ""))
        if not self._token:
            raise ExchangeRefused("ThreatExchange needs credentials {access_token}")
        self._host = urllib.parse.urlsplit(self._url).netloc

    def pages(self, checkpoint: Mapping[str, Any] | None, now: datetime) -> Iterator[Page]:
        c = dict(checkpoint or {})
        start = int(c.get("start", 0))
        following = str(c.get("next", ""))
        latest = int(c.get("latest", start))
        if not following:
            query = {"fields": FIELDS, "types": ",".join(TYPES), "limit": PAGE_SIZE}
            if start:
                query["start_time"] = start
            following = f"{self._url}/threat_updates/?{urllib.parse.urlencode(query)}"
        while True:
            answer = self._get(following)
            entries, problems, newest = _updates(answer.get("data"))
            latest = max(latest, newest)
            paging = answer.get("paging")
            nxt = paging.get("next") if isinstance(paging, dict) else None
            if isinstance(nxt, str) and nxt:
                following = self._stripped(nxt)
                yield Page(entries, {"start": start, "next": following, "latest": latest}, problems)
                continue
            yield Page(entries, {"start": latest}, problems)
            return

    def check(self) -> str:
        """The privacy group's node: its id and name."""
        answer = self._get(f"{self._url}/?{urllib.parse.urlencode({'fields': 'id,name'})}")
        return f"ThreatExchange privacy group {answer.get('id')} ({answer.get('name', '')})"

    def _stripped(self, url: str) -> str:
        """``url`` without its access token, once it is checked to be on the exchange's host."""
        parts = urllib.parse.urlsplit(url)
        if parts.netloc != self._host or parts.scheme not in ("https", "http"):
            raise ExchangeError(f"a paging address on another host ({parts.netloc[:80]!r})")
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "access_token"]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def _get(self, url: str) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(url)
        query = [*urllib.parse.parse_qsl(parts.query), ("access_token", self._token)]
        full = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        body = call("GET", full, headers={"Accept": "application/json"})
        try:
            answer = json.loads(body)
        except ValueError:
            raise ExchangeError("threat_updates answered with what is not JSON") from None
        if not isinstance(answer, dict):
            raise ExchangeError("threat_updates answered with JSON that is not an object")
        return answer

    def send_feedback(self, item: FeedbackItem) -> None:
        raise ExchangeError("feedback to ThreatExchange is not sent")


def _updates(data: object) -> tuple[list[ExchangeEntry], list[str], int]:
    if not isinstance(data, list):
        return [], ([] if data is None else ["data is not a list"]), 0
    entries: list[ExchangeEntry] = []
    problems: list[str] = []
    newest = 0
    for position, update in enumerate(data):
        try:
            kind = update["type"]
            tags = _tags(update.get("tags"))
            signal_type = from_exchange("threatexchange", kind)
            if signal_type is SignalType.md5 and "media_type_video" in tags:
                signal_type = SignalType.video_md5  # ThreatExchange's tag for a video's MD5
            newest = max(newest, int(update.get("last_updated") or 0))
            if signal_type is None:
                continue
            entries.append(
                ExchangeEntry(
                    external_id=str(update["id"]),
                    signal_type=signal_type,
                    value=normalize(signal_type, str(update["indicator"])),
                    active=not bool(update.get("should_delete")),
                    tags=tags,
                )
            )
        except (InvalidSignal, KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"update {position}: {exc}")
    return entries, problems, newest


def _tags(value: object) -> tuple[str, ...]:
    """Tags as the Graph API gives them: a list of names, or ``{"data": [{"text": …}]}``."""
    if isinstance(value, dict):
        value = [t.get("text") or t.get("name") for t in value.get("data") or ()]
    if not isinstance(value, list):
        return ()
    return tuple(str(t) for t in value if t)
