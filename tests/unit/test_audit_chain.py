from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from takedown.audit import GENESIS_HASH, AuditRecord, entry_hash, verify_chain


def make_chain(n: int) -> list[AuditRecord]:
    records = []
    prev = GENESIS_HASH
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        rec = AuditRecord(
            seq=i,
            at=t0 + timedelta(seconds=i),
            actor_kind="system",
            actor_id=None,
            actor_name="t",
            action="x.done",
            target_type="case",
            target_id=str(i),
            details={"i": i},
            prev_hash=prev,
        )
        rec = replace(rec, hash=entry_hash(rec))
        records.append(rec)
        prev = rec.hash
    return records


def check(records, head=None):
    head = head or (records[-1].seq, records[-1].hash) if records else (0, GENESIS_HASH)
    return verify_chain(records, head_seq=head[0], head_hash=head[1])


def test_intact_chain_has_no_problems():
    chain = make_chain(10)
    assert verify_chain(chain, head_seq=10, head_hash=chain[-1].hash) == []
    assert verify_chain([], head_seq=0, head_hash=GENESIS_HASH) == []


def test_edited_entry_is_named():
    chain = make_chain(10)
    chain[4] = replace(chain[4], details={"i": 999})
    problems = verify_chain(chain, head_seq=10, head_hash=chain[-1].hash)
    assert [(p.seq, p.problem.split(":")[0]) for p in problems] == [(5, "edited")]


def test_deleted_entry_is_named():
    chain = make_chain(10)
    del chain[6]
    problems = verify_chain(chain, head_seq=10, head_hash=chain[-1].hash)
    assert problems[0].seq == 7 and problems[0].problem.startswith("deleted")


def test_deleted_last_entry_is_caught_by_the_head():
    chain = make_chain(10)
    head = (10, chain[-1].hash)
    problems = verify_chain(chain[:-1], head_seq=head[0], head_hash=head[1])
    assert problems and problems[0].seq == 10 and "deleted" in problems[0].problem


def test_inserted_entry_is_named():
    chain = make_chain(5)
    forged = replace(chain[2], seq=3, details={"forged": True})
    forged = replace(forged, hash=entry_hash(forged))
    chain.insert(3, forged)
    problems = verify_chain(chain, head_seq=5, head_hash=chain[-1].hash)
    assert any(p.seq == 3 and "inserted" in p.problem for p in problems)


@given(st.integers(min_value=1, max_value=30), st.data())
def test_any_single_edit_is_detected_at_its_entry(n, data):
    chain = make_chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    field = data.draw(st.sampled_from(["actor_name", "action", "target_id"]))
    chain[i] = replace(chain[i], **{field: "tampered"})
    problems = verify_chain(chain, head_seq=n, head_hash=make_chain(n)[-1].hash)
    assert problems and problems[0].seq == i + 1


def test_hash_ignores_time_zone_representation_but_not_instant():
    rec = make_chain(1)[0]
    same_instant = replace(rec, at=rec.at.astimezone(tz=UTC).replace(tzinfo=None))
    assert entry_hash(same_instant) == entry_hash(rec)
    later = replace(rec, at=rec.at + timedelta(microseconds=1))
    assert entry_hash(later) != entry_hash(rec)


def test_a_chain_rewritten_wholesale_is_caught_by_a_published_anchor():
    chain = make_chain(6)
    anchor = {4: chain[3].hash}
    # Someone with write access rebuilds a consistent chain with entry 2 altered.
    forged = []
    prev = GENESIS_HASH
    for rec in chain:
        rec = replace(rec, prev_hash=prev, details={"i": -1} if rec.seq == 2 else rec.details)
        rec = replace(rec, hash=entry_hash(rec))
        forged.append(rec)
        prev = rec.hash
    assert verify_chain(forged, head_seq=6, head_hash=forged[-1].hash) == []
    problems = verify_chain(forged, head_seq=6, head_hash=forged[-1].hash, anchors=anchor)
    assert [(p.seq, p.problem.split(":")[0]) for p in problems] == [(4, "rewritten")]
    truncated = verify_chain(forged[:3], head_seq=3, head_hash=forged[2].hash, anchors=anchor)
    assert [(p.seq, p.problem.split(":")[0]) for p in truncated] == [(4, "deleted")]
