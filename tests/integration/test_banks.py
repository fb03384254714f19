"""Banks on both databases: entries, duplicates, other processes' changes, timed disables,
and the CLI's import and match."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from takedown.identity import Principal
from takedown.matching import BankPolicy, SignalType
from takedown.media import hash_image
from takedown.services import banks
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.matcher import Matcher
from takedown.store.types import utcnow
from tests.conftest import OPERATOR
from tests.media_support import at_megapixels, encode, photo

PDQ = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"


def make(container, name="b1", policy=BankPolicy.block):
    return banks.create_bank(
        uow=container.uow(), matcher=container.matcher, actor=OPERATOR, name=name, policy=policy
    )


def add(container, bank, *items):
    return banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name=bank,
        items=[banks.EntryIn(*i) for i in items],
    )


def test_entries_are_validated_deduplicated_and_audited(container):
    make(container)
    result = add(
        container,
        "b1",
        ("pdq", PDQ),
        ("PDQ", PDQ.upper()),
        ("md5", "zz"),
        ("sha1", "ab" * 20),
        ("md5", "0" * 32),
    )
    assert (result.added, result.duplicates) == (2, 1)
    assert [p for p, _ in result.invalid] == [2, 3]
    again = add(container, "b1", ("pdq", PDQ))
    assert (again.added, again.duplicates) == (0, 1)
    with pytest.raises(Conflict):
        make(container)
    with pytest.raises(InvalidInput):
        make(container, name="Bad Name")
    with pytest.raises(NotFound):
        add(container, "nope", ("pdq", PDQ))


def test_a_change_in_another_process_reaches_this_ones_indexes(container, db):
    make(container)
    here = container.matcher
    there = Matcher(db, check_seconds=0)  # another API process on the same database
    assert there.indexes().lookup({SignalType.pdq: PDQ}) == []
    add(container, "b1", ("pdq", PDQ))
    assert here.indexes().lookup({SignalType.pdq: PDQ})  # applied in place
    assert there.indexes().lookup({SignalType.pdq: PDQ})[0].distance == 0


def test_another_process_catches_up_with_each_change_without_reading_every_entry(container, db):
    """Each change made elsewhere (entries added, disabled, enabled, deleted, a bank turned
    off) reaches this process by the entries it touched (``bank_changes``), not by reading
    every entry again."""
    make(container)
    there = Matcher(db, check_seconds=0)
    md5 = "ab" * 16
    add(container, "b1", ("pdq", PDQ), ("md5", md5))
    assert there.indexes().lookup({SignalType.pdq: PDQ}) and there.rebuilt == 1

    def sees(**hashes):
        found = there.indexes().lookup({SignalType(k): v for k, v in hashes.items()})
        return sorted(m.signal_type.value for m in found)

    other = "0f" * 32
    add(container, "b1", ("pdq", other))
    assert sees(pdq=other) == ["pdq"]
    entries = {e.value: e for e in banks.list_entries(
        uow=container.uow(readonly=True), actor=OPERATOR, bank_name="b1")}  # fmt: skip
    for kind, value in (("pdq", PDQ), ("md5", md5)):
        disable = dict(uow=container.uow(), matcher=container.matcher, actor=OPERATOR,
                       bank_name="b1", entry_id=entries[value].id)  # fmt: skip
        banks.set_entry_disabled(**disable, disabled=True)
        assert sees(**{kind: value}) == []
        disable["uow"] = container.uow()
        banks.set_entry_disabled(**disable, disabled=False)
        assert sees(**{kind: value}) == [kind]
    banks.delete_entry(uow=container.uow(), matcher=container.matcher, actor=OPERATOR,
                       bank_name="b1", entry_id=entries[md5].id)  # fmt: skip
    assert sees(md5=md5) == []
    banks.update_bank(uow=container.uow(), matcher=container.matcher, actor=OPERATOR,
                      name="b1", enabled=False)  # fmt: skip
    assert sees(pdq=PDQ) == []
    assert there.rebuilt == 1 and there.caught_up >= 7
    # A process that starts now reads the same as the one that caught up.
    fresh = Matcher(db, check_seconds=0)
    for hashes in ({SignalType.pdq: PDQ}, {SignalType.pdq: other}, {SignalType.md5: md5}):
        assert fresh.indexes().lookup(hashes) == there.indexes().lookup(hashes)


def test_a_process_behind_a_pruned_change_log_reads_every_entry_and_misses_nothing(container, db):
    make(container)
    there = Matcher(db, check_seconds=0)
    assert there.indexes().lookup({SignalType.pdq: PDQ}) == []
    add(container, "b1", ("pdq", PDQ))
    with container.uow() as uow:
        assert uow.bank_entries.prune_changes(utcnow() + timedelta(seconds=1)) >= 1
        uow.commit()
    assert there.indexes().lookup({SignalType.pdq: PDQ})  # not from the log: it is gone
    assert there.rebuilt == 2 and there.caught_up == 0
    add(container, "b1", ("md5", "cd" * 16))  # logged after the prune: applied in place
    assert there.indexes().lookup({SignalType.md5: "cd" * 16})
    assert there.rebuilt == 2 and there.caught_up == 1


def test_fresh_indexes_are_given_without_io_only_within_the_check_interval(db):
    """Report intake takes the indexes with ``fresh()`` on the event loop and calls
    ``indexes()`` (which reads the store) on a thread only when that gives None."""
    matcher = Matcher(db, check_seconds=3600)
    assert matcher.fresh() is None  # never loaded
    loaded = matcher.indexes()
    assert matcher.fresh() is loaded
    matcher.check_seconds = 0
    assert matcher.fresh() is None  # due for a check against the store


def test_an_entry_disabled_for_a_while_comes_back_by_itself(container):
    make(container)
    entry = add(container, "b1", ("pdq", PDQ)).entries[0]
    container.matcher.check_seconds = 3600
    assert container.matcher.indexes().lookup({SignalType.pdq: PDQ})
    soon = utcnow() + timedelta(seconds=1)
    banks.set_entry_disabled(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="b1",
        entry_id=entry.id,
        disabled=True,
        until=soon,
    )
    assert container.matcher.indexes().lookup({SignalType.pdq: PDQ}) == []
    container.clock.advance(1.2)  # past ``soon``
    assert container.matcher.indexes().lookup({SignalType.pdq: PDQ})


def test_bank_changes_need_the_bank_permission(container):
    from takedown.identity import Forbidden, PrincipalKind, Role

    reviewer = Principal(kind=PrincipalKind.staff_token, subject_id=1, name="r", role=Role.reviewer)
    with pytest.raises(Forbidden):
        banks.create_bank(
            uow=container.uow(),
            matcher=container.matcher,
            actor=reviewer,
            name="z",
            policy=BankPolicy.log,
        )
    with pytest.raises(Forbidden):
        banks.list_banks(uow=container.uow(readonly=True), actor=reviewer)


def cli(database_url, tmp_path, *args):
    env = {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_imports_our_csv_and_threatexchange_exports_then_matches(database_url, tmp_path):
    image = tmp_path / "photo.jpg"
    image.write_bytes(encode(at_megapixels(photo("horse.png"), 0.5), quality=90))
    hashes = hash_image(image.read_bytes())
    assert (
        cli(database_url, tmp_path, "bank", "create", "imported", "--policy", "block").returncode
        == 0
    )
    ours = tmp_path / "ours.csv"
    ours.write_text(
        f"signal_type,value,note\npdq,{hashes.pdq.hex},from a partner\n"
        f"md5,not-a-hash\n\n# comment\nsha256,{hashes.sha256}\n"
    )
    result = cli(database_url, tmp_path, "bank", "import", "imported", str(ours))
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"added": 2, "duplicate": 0, "invalid": 1}
    assert "ours.csv:3:" in result.stderr
    te_csv = tmp_path / "te.csv"
    te_csv.write_text(
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{hashes.pdq.hex},Sample,Harmful,tag1\n"
        f"video_md5,{hashes.md5},Sample,Harmful,\n"
    )
    result = cli(database_url, tmp_path, "bank", "import", "imported", str(te_csv))
    assert json.loads(result.stdout) == {"added": 1, "duplicate": 1, "invalid": 0}
    te_plain = tmp_path / "te.txt"
    te_plain.write_text(f"pdq {'0' * 64} 'Sample' Harmful\nurl http://example.test\n")
    result = cli(database_url, tmp_path, "bank", "import", "imported", str(te_plain))
    assert json.loads(result.stdout) == {"added": 1, "duplicate": 0, "invalid": 1}

    matched = cli(database_url, tmp_path, "match", str(image))
    assert matched.returncode == 0, matched.stderr
    line = json.loads(matched.stdout)
    assert line["verdict"] == "block"
    assert {m["signal_type"] for m in line["matches"]} == {"pdq", "video_md5", "sha256"}
    listed = [
        json.loads(x) for x in cli(database_url, tmp_path, "bank", "list").stdout.splitlines()
    ]
    assert listed == [{"name": "imported", "policy": "block", "pdq_threshold": 31, "enabled": True}]


def test_the_registry_keeps_the_first_sighting_and_takes_new_facts(container):
    from takedown.identity import PrincipalKind, Scope

    platform = Principal(
        kind=PrincipalKind.api_key,
        subject_id=1,
        name="p",
        scopes=frozenset({Scope.scan}),
    )
    from takedown.services import scanning

    scanning.register_content(
        uow=container.uow(),
        actor=platform,
        content_id="c1",
        account_id="a1",
        hashes={SignalType.md5: "0" * 32},
    )
    with container.uow(readonly=True) as uow:
        first = uow.content.get("c1")
    scanning.register_content(
        uow=container.uow(),
        actor=platform,
        content_id="c1",
        account_id="a2",
        parent_content_id="p1",
    )
    with container.uow(readonly=True) as uow:
        second = uow.content.get("c1")
    assert second.first_seen_at == first.first_seen_at
    assert (second.account_id, second.parent_content_id, second.md5) == ("a2", "p1", "0" * 32)
    assert second.last_scanned_at is None
