"""A hash list in a file or at a URL, in a format ``takedown bank import`` reads (our CSV,
python-threatexchange's exports, a vPDQ file), read again on the exchange's schedule.

The list is the whole truth each time: its hashes are the bank's entries from this exchange,
and one it no longer lists is withdrawn (``Page.complete``). The checkpoint is the list's
SHA-256: an unchanged list is not read into the bank again. A line that is not a hash is a
problem of the pass (named by its number only, never its text); the other lines still
count, and a list with no valid line at all fails the pass rather than withdraw everything.
``url``: ``http(s)://…`` (fetched through ``outbound``, with ``{"headers": {...}}`` from the
credentials, e.g. a bearer token), or a path on this machine (``file://…`` or plain).
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from takedown.matching import InvalidSignal, SignalType, normalize
from takedown.matching.exchanges import ExchangeEntry, ExchangeError, FeedbackItem, Page
from takedown.matching.hash_files import parse_hash_list
from takedown.services.exchanges.http import MAX_ANSWER, call


class FileListClient:
    takes_feedback = False

    def __init__(self, url: str, credentials: Mapping[str, Any]):
        self._url = url
        headers = credentials.get("headers") or {}
        self._headers = {str(k): str(v) for k, v in dict(headers).items()}

    def _read(self) -> bytes:
        scheme = urllib.parse.urlsplit(self._url).scheme
        if scheme in ("http", "https"):
            return call("GET", self._url, headers=self._headers)
        path = Path(urllib.parse.urlsplit(self._url).path if scheme == "file" else self._url)
        try:
            with path.open("rb") as f:
                data = f.read(MAX_ANSWER + 1)
        except OSError as exc:
            raise ExchangeError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > MAX_ANSWER:
            raise ExchangeError(f"{path} is over {MAX_ANSWER} bytes")
        return data

    def pages(self, checkpoint: Mapping[str, Any] | None, now: datetime) -> Iterator[Page]:
        data = self._read()
        digest = hashlib.sha256(data).hexdigest()
        if (checkpoint or {}).get("sha256") == digest:
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ExchangeError("the list is not UTF-8 text") from None
        entries: list[ExchangeEntry] = []
        problems: list[str] = []
        for signal in parse_hash_list(text):
            try:
                signal_type = SignalType(signal.signal_type)
                value = normalize(signal_type, signal.value)
            except InvalidSignal:
                problems.append(f"line {signal.line}: not a {signal.signal_type} hash")
                continue
            except ValueError:
                problems.append(f"line {signal.line}: not a signal type takedown knows")
                continue
            entries.append(ExchangeEntry(value, signal_type, value))
        if problems and not entries:
            # A list with no hash left in it is a broken file, not an order to withdraw all.
            raise ExchangeError(f"the list has no valid hash ({problems[0]})")
        yield Page(entries, {"sha256": digest}, problems, complete=True)

    def send_feedback(self, item: FeedbackItem) -> None:
        raise ExchangeError("a file takes no feedback")

    def check(self) -> str:
        data = self._read()
        return f"the list reads: {len(data.splitlines())} lines, {len(data)} bytes"
