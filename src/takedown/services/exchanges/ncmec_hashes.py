"""NCMEC's hash sharing API (XML, version 2): the fingerprints of known CSAM that NCMEC and
its member platforms share. Not the CyberTipline (``services.ncmec``): this one is read.

``GET {url}/v2/entries?from=T1&to=T2`` answers ``<queryResult>`` with ``<images>`` and
``<videos>`` holding ``<image>``/``<video>`` entries (``<member id=…>``, ``<id>``,
``<fingerprints>`` with ``<md5>``, ``<pdq>``, …) and ``<deletedImage>``/``<deletedVideo>``
tombstones (a member withdrew that entry), and a ``<paging><next>`` path for the rest of the
window. Entries do not come in time order, so only a window read to its last page moves the
checkpoint past it; while paging, the checkpoint holds the ``next`` path with its window, and
a ``next`` older than twelve hours (NCMEC's advice) is dropped and the window read again.

Feedback: ``PUT {url}/v2/entries/{member}/{id}/{MD5|PDQ}/feedback`` with
``<feedbackSubmission><affirmative/></feedbackSubmission>``, or ``<negative>`` with the id of
one of ``GET {url}/v2/feedback/{type}/reasons``. Credentials ``{"username", "password"}`` as
HTTP Basic; optionally ``negative_reason``: the reason's guid to give with a downvote (else
the first NCMEC lists).

Fingerprints takedown matches: an image's ``pdq`` and ``md5``, a video's ``md5``
(``video_md5``); the others (PhotoDNA, SHA-1, …) are left. An entry's id here is
``{member}/{id}``, the path its feedback goes to.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from takedown.matching import InvalidSignal, from_exchange, name_in, normalize
from takedown.matching.exchanges import (
    ExchangeEntry,
    ExchangeError,
    ExchangeRefused,
    Feedback,
    FeedbackItem,
    Page,
)
from takedown.services.exchanges.http import call

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
_TIME = "%Y-%m-%dT%H:%M:%SZ"
PAGING_VALID = timedelta(hours=12)
SETTLE = timedelta(seconds=5)  # the window ends a little before now: entries still landing


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


class NcmecHashClient:
    takes_feedback = True

    def __init__(self, url: str, credentials: Mapping[str, str]):
        self._url = url.rstrip("/")
        user, password = credentials.get("username", ""), credentials.get("password", "")
        if not (user and password):
            raise ExchangeRefused("NCMEC needs credentials {username, password}")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/xml"}
        self._negative_reason = credentials.get("negative_reason", "")

    def pages(self, checkpoint: Mapping[str, Any] | None, now: datetime) -> Iterator[Page]:
        c = dict(checkpoint or {})
        start = int(c.get("from", 0))
        end = int((now - SETTLE).timestamp())
        following = str(c.get("next", ""))
        paged_at = c.get("next_at")
        fresh = paged_at is not None and now.timestamp() - float(paged_at) <= (
            PAGING_VALID.total_seconds()
        )
        if following and fresh:
            end = int(c.get("to", end))
        else:
            following = ""
        if end <= start:
            return
        while True:
            if following:
                if not following.startswith("/"):
                    raise ExchangeError(f"a paging path that is not a path: {following[:80]!r}")
                url = self._url + following
            else:
                query = urllib.parse.urlencode({"from": _time(start), "to": _time(end)})
                url = f"{self._url}/v2/entries?{query}"
            root = self._get(url)
            entries, removed, problems = _entries(root)
            following = _next(root)
            if following:
                checkpoint_after = {
                    "from": start,
                    "to": end,
                    "next": following,
                    "next_at": now.timestamp(),
                }
                yield Page(entries, checkpoint_after, problems, removed=removed)
                continue
            yield Page(entries, {"from": end}, problems, removed=removed)
            return

    def check(self) -> str:
        """``GET /v2/status``: the member these credentials are."""
        root = self._get(f"{self._url}/v2/status")
        for node in root.iter():
            if _local(node.tag) == "member":
                return f"NCMEC member {node.get('id')} ({(node.text or '').strip()})"
        raise ExchangeError("NCMEC's status names no member")

    def _get(self, url: str) -> Any:
        body = call("GET", url, headers=self._headers)
        try:
            return etree.fromstring(body, parser=_parser())
        except etree.XMLSyntaxError as exc:
            raise ExchangeError(f"NCMEC answered with what is not XML: {exc}") from None

    def send_feedback(self, item: FeedbackItem) -> None:
        kind = name_in("ncmec_feedback", item.signal_type)
        if kind is None:
            raise ExchangeRefused(f"NCMEC takes no feedback on {item.signal_type} hashes")
        root = etree.Element(f"{{{NAMESPACE}}}feedbackSubmission", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
        if item.verdict is Feedback.confirmed:
            etree.SubElement(root, f"{{{NAMESPACE}}}affirmative")
        else:
            vote = etree.SubElement(root, f"{{{NAMESPACE}}}negative")
            ids = etree.SubElement(vote, f"{{{NAMESPACE}}}reasonIds")
            guid = etree.SubElement(ids, f"{{{NAMESPACE}}}guid")
            guid.text = self._negative_reason or self._first_reason(kind)
        path = "/".join(urllib.parse.quote(p, safe="") for p in item.external_id.split("/", 1))
        call(
            "PUT",
            f"{self._url}/v2/entries/{path}/{kind}/feedback",
            headers=self._headers | {"Content-Type": "application/xml; charset=utf-8"},
            body=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
        )

    def _first_reason(self, kind: str) -> str:
        root = self._get(f"{self._url}/v2/feedback/{kind}/reasons")
        for node in root.iter():
            if _local(node.tag) == "reason" and node.get("guid"):
                return str(node.get("guid"))
        raise ExchangeRefused(f"NCMEC lists no reason for negative feedback on {kind}")


def _time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime(_TIME)


def _next(root: Any) -> str:
    for node in root:
        if _local(node.tag) == "paging":
            for child in node:
                if _local(child.tag) == "next" and child.text:
                    return str(child.text).strip()
    return ""


def _entries(root: Any) -> tuple[list[ExchangeEntry], list[str], list[str]]:
    if _local(root.tag) != "queryResult":
        raise ExchangeError(f"NCMEC answered <{_local(root.tag)}>, not <queryResult>")
    entries: list[ExchangeEntry] = []
    removed: list[str] = []
    problems: list[str] = []
    for group in root:
        if _local(group.tag) not in ("images", "videos"):
            continue
        for node in group:
            tag = _local(node.tag)
            kind = tag.removeprefix("deleted").lower()
            if kind not in ("image", "video"):
                continue
            try:
                external_id = _entry_id(node)
            except ValueError as exc:
                problems.append(f"<{tag}>: {exc}")
                continue
            if tag.startswith("deleted"):
                removed.append(external_id)
                continue
            classification = _child_text(node, "classification")
            tags = (f"classification:{classification}",) if classification else ()
            for fingerprints in (n for n in node if _local(n.tag) == "fingerprints"):
                for fp in fingerprints:
                    signal_type = from_exchange("ncmec", f"{kind}:{_local(fp.tag).lower()}")
                    if signal_type is None or not (fp.text or "").strip():
                        continue
                    try:
                        value = normalize(signal_type, fp.text or "")
                    except InvalidSignal as exc:
                        problems.append(f"entry {external_id}: {exc}")
                        continue
                    entries.append(ExchangeEntry(external_id, signal_type, value, True, tags))
    return entries, removed, problems


def _child_text(node: Any, name: str) -> str:
    for child in node:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _entry_id(node: Any) -> str:
    member = next((c for c in node if _local(c.tag) == "member"), None)
    member_id = member.get("id") if member is not None else None
    entry_id = _child_text(node, "id")
    if not member_id or not entry_id or "/" in entry_id or not member_id.isdigit():
        raise ValueError("an entry without a member id and an entry id")
    return f"{member_id}/{entry_id}"
