"""StopNCII's hash exchange API (``api.stopncii.org/v1``): the hashes people submit to
StopNCII.org (and Take It Down) so that their intimate images are blocked without ever
being shared.

``GET {url}/FetchHashes?startTimestamp=S&pageSize=N[&nextPageToken=T]`` answers
``{count, nextPageToken, nextSetTimestamp, hasMoreRecords, hashRecords: [{lastModtimestamp,
signalType, hashValue, hashStatus, caseNumbers, CSPFeedbacks}]}``. Each record is the hash's
whole current state: a later record for the same hash replaces the earlier. A hash whose
``hashStatus`` is ``Withdrawn`` or ``Deleted`` must stop matching: its owner took it back.
(python-threatexchange's client compared the hash's value against those names, so a
withdrawn hash went on matching; here the status is what is read.)

``POST {url}/SubmitFeedback`` ``{count, hashFeedbacks: [{hashValue, feedbackValue, tags}]}``
with ``Blocked`` when a reviewer confirmed the match, ``NotBlocked`` when they did not.

Credentials (``{"subscription_key", "functions_key"}``, optionally a ``feedback_functions_key``
where StopNCII gave a separate key for feedback) travel as ``Ocp-Apim-Subscription-Key`` and
``x-functions-key``.

The checkpoint: while a fetch pages, the start timestamp and the next page's token; once the
pages are exhausted, ``nextSetTimestamp`` as the next start. A token StopNCII no longer takes
(they are short-lived) is dropped and the window fetched again from its start: records are
states, so reading one twice changes nothing. A record that cannot be read is a problem of
the page, not a stop: the page's token still moves the fetch on.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from takedown.matching import InvalidSignal, from_exchange, normalize
from takedown.matching.exchanges import (
    ExchangeEntry,
    ExchangeError,
    ExchangeRefused,
    Feedback,
    FeedbackItem,
    Page,
)
from takedown.services.exchanges.http import call

INACTIVE = {"Withdrawn", "Deleted"}
FEEDBACK = {Feedback.confirmed: "Blocked", Feedback.rejected: "NotBlocked"}
START = 10  # StopNCII's earliest start timestamp
PAGE_SIZE = 1000


class StopNciiClient:
    takes_feedback = True

    def __init__(self, url: str, credentials: Mapping[str, str], *, page_size: int = PAGE_SIZE):
        self._url = url.rstrip("/")
        self._subscription = credentials.get("subscription_key", "")
        self._fetch_key = credentials.get("functions_key", "")
        self._feedback_key = credentials.get("feedback_functions_key") or self._fetch_key
        if not (self._subscription and self._fetch_key):
            raise ExchangeRefused("StopNCII needs credentials {subscription_key, functions_key}")
        self._page_size = page_size

    def _headers(self, function_key: str) -> dict[str, str]:
        return {
            "Ocp-Apim-Subscription-Key": self._subscription,
            "x-functions-key": function_key,
            "Accept": "application/json",
        }

    def pages(self, checkpoint: Mapping[str, Any] | None, now: datetime) -> Iterator[Page]:
        start = int((checkpoint or {}).get("start", START))
        token = str((checkpoint or {}).get("token", ""))
        while True:
            params: dict[str, Any] = {"startTimestamp": start, "pageSize": self._page_size}
            if token:
                params["nextPageToken"] = token
            url = f"{self._url}/FetchHashes?{urllib.parse.urlencode(params)}"
            try:
                body = call("GET", url, headers=self._headers(self._fetch_key))
            except ExchangeRefused:
                if not token:
                    raise
                token = ""  # an expired token: the window again, from its start
                continue
            answer = _json(body)
            entries, problems = _records(answer.get("hashRecords"))
            more = answer.get("hasMoreRecords")
            next_token = answer.get("nextPageToken") or ""
            if not isinstance(more, bool):
                raise ExchangeError("a FetchHashes answer without hasMoreRecords")
            if more:
                if not isinstance(next_token, str) or not next_token or next_token == token:
                    raise ExchangeError(
                        "FetchHashes says it has more records but gives no new page token"
                    )
                yield Page(entries, {"start": start, "token": next_token}, problems)
                token = next_token
                continue
            following = answer.get("nextSetTimestamp")
            if not isinstance(following, int) or following < 0:
                following = start
                problems.append("a last FetchHashes page without nextSetTimestamp")
            yield Page(entries, {"start": max(start, following), "token": ""}, problems)
            return

    def check(self) -> str:
        """One ``FetchHashes`` of one record (StopNCII has no identity endpoint)."""
        query = urllib.parse.urlencode({"startTimestamp": START, "pageSize": 1})
        body = call(
            "GET", f"{self._url}/FetchHashes?{query}", headers=self._headers(self._fetch_key)
        )
        answer = _json(body)
        more = "more records" if answer.get("hasMoreRecords") else "no more records"
        return f"StopNCII answers FetchHashes ({more})"

    def send_feedback(self, item: FeedbackItem) -> None:
        body = json.dumps(
            {
                "count": 1,
                "hashFeedbacks": [
                    {
                        "hashValue": item.value,
                        "feedbackValue": FEEDBACK[item.verdict],
                        "tags": [],
                    }
                ],
            }
        ).encode()
        headers = self._headers(self._feedback_key) | {"Content-Type": "application/json"}
        call("POST", f"{self._url}/SubmitFeedback", headers=headers, body=body)


def _json(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        raise ExchangeError(f"FetchHashes answered with what is not JSON: {body[:80]!r}") from None
    if not isinstance(answer, dict):
        raise ExchangeError("FetchHashes answered with JSON that is not an object")
    return answer


def _records(records: object) -> tuple[list[ExchangeEntry], list[str]]:
    if records is None:
        return [], []
    if not isinstance(records, list):
        return [], ["hashRecords is not a list"]
    entries: list[ExchangeEntry] = []
    problems: list[str] = []
    for position, record in enumerate(records):
        try:
            entry = _record(record)
        except (InvalidSignal, ValueError, TypeError, KeyError) as exc:
            problems.append(f"record {position}: {exc}; record {str(record)[:200]}")
            continue
        if entry is not None:
            entries.append(entry)
    return entries, problems


def _record(record: Any) -> ExchangeEntry | None:
    if not isinstance(record, dict):
        raise ValueError("not an object")
    kind = record["signalType"]
    signal_type = from_exchange("stopncii", kind) if isinstance(kind, str) else None
    if signal_type is None:
        return None  # a type takedown does not match (VideoTMK, Text, URL): not an error
    value = record["hashValue"]
    status = record["hashStatus"]
    if not isinstance(value, str) or not isinstance(status, str):
        raise ValueError("hashValue and hashStatus are text")
    cases = record.get("caseNumbers") or {}
    tags = tuple(f"case:{c}" for c in sorted(cases)) if isinstance(cases, dict) else ()
    return ExchangeEntry(
        external_id=value.strip().lower(),
        signal_type=signal_type,
        value=normalize(signal_type, value),
        active=status not in INACTIVE,
        tags=tags,
    )
