"""Hash chain over the audit log.

Each entry stores ``prev_hash`` (the previous entry's ``hash``) and its own ``hash``, the
SHA-256 of a canonical JSON of every field but ``hash``. Entries are numbered by ``seq``
without gaps, and a one-row head records the last ``seq`` and ``hash``. So:

- an edited entry no longer matches its own hash;
- a deleted entry leaves a gap in ``seq`` (or, if it was the last, a head pointing past the end);
- an inserted or reordered entry breaks the ``prev_hash`` link of the entry after it.

What it cannot do: someone who can rewrite the whole table *and* the head can forge a new
consistent chain. Publishing the head hash elsewhere (a later feature) closes that gap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from takedown.utctime import utc_text

GENESIS_HASH = "0" * 64
# The canonical JSON, made once: ``json.dumps`` with options builds its encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Made for every report: slotted and not frozen, for speed; still treated as a value, never
# changed (docs/developing.md, "Domain").
@dataclass(slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str = ""


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


def _canonical_time(at: datetime) -> str:
    # Stored without time zone on SQLite and with it on PostgreSQL; hash the UTC wall time.
    if at.tzinfo is None:
        return at.isoformat(timespec="microseconds")
    return utc_text(at, "T")


def entry_hash(record: AuditRecord) -> str:
    body = {
        "seq": record.seq,
        "at": _canonical_time(record.at),
        "actor_kind": record.actor_kind,
        "actor_id": record.actor_id,
        "actor_name": record.actor_name,
        "action": record.action,
        "target_type": record.target_type,
        "target_id": record.target_id,
        "details": record.details,
        "prev_hash": record.prev_hash,
    }
    canonical = _CANONICAL.encode(body)
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    head_seq: int,
    head_hash: str,
    anchors: Mapping[int, str] | None = None,
) -> list[ChainProblem]:
    """Check ``records`` (in ``seq`` order) against each other and the head.

    ``anchors`` maps a ``seq`` to the hash published for it earlier (``takedown audit head``
    copied somewhere the database's administrators cannot write). A chain rewritten wholesale
    is consistent in itself, but no longer matches its anchors.

    Returns every problem found, empty when the chain is intact. Each problem names the
    entry (``seq``) where the chain breaks and what is wrong there.
    """
    anchors = dict(anchors or {})
    problems: list[ChainProblem] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for record in records:
        if record.seq > expected_seq:
            missing = (
                str(expected_seq)
                if record.seq == expected_seq + 1
                else f"{expected_seq}-{record.seq - 1}"
            )
            problems.append(ChainProblem(expected_seq, f"deleted: entries {missing} are missing"))
        elif record.seq < expected_seq:
            problems.append(ChainProblem(record.seq, "inserted: sequence number repeats"))
        if record.prev_hash != prev_hash:
            problems.append(
                ChainProblem(
                    record.seq,
                    "inserted or reordered: prev_hash does not match the entry before it",
                )
            )
        if entry_hash(record) != record.hash:
            problems.append(ChainProblem(record.seq, "edited: content does not match its hash"))
        anchored = anchors.pop(record.seq, None)
        if anchored is not None and anchored != record.hash:
            problems.append(
                ChainProblem(record.seq, "rewritten: hash differs from the published anchor")
            )
        prev_hash = record.hash
        expected_seq = max(expected_seq, record.seq + 1)
    last_seq = expected_seq - 1
    if last_seq < head_seq:
        problems.append(
            ChainProblem(
                last_seq + 1, f"deleted: the log ends at {last_seq} but the head says {head_seq}"
            )
        )
    elif last_seq > head_seq:
        problems.append(
            ChainProblem(head_seq + 1, f"inserted: entries past the head ({head_seq}) were added")
        )
    elif prev_hash != head_hash:
        problems.append(ChainProblem(last_seq, "edited: last entry does not match the head hash"))
    for seq in sorted(anchors):
        problems.append(ChainProblem(seq, "deleted: the anchored entry is gone"))
    return sorted(problems, key=lambda p: p.seq)
