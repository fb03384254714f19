"""Hash exchanges against local servers that speak StopNCII's and NCMEC's protocols, on
SQLite and PostgreSQL: a fetched hash blocks a matching upload; a withdrawn or deleted one
stops blocking within one sync; paging, tokens and time windows; a malformed record, an
unreadable page and a 5xx storm; a sync killed mid-way resumes from its checkpoint; feedback
reaches the exchange once per decision; credentials are sealed and never echoed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from takedown.cases import CaseStatus, Category, Outcome
from takedown.evidence import MasterKey
from takedown.identity import Role
from takedown.matching import BankPolicy, Verdict
from takedown.matching.exchanges import ExchangeKind
from takedown.media import hash_image
from takedown.services import banks, exchanges, scanning
from takedown.services.errors import Conflict, InvalidInput
from takedown.services.evidence import Vault
from takedown.services.exchanges import threatexchange
from tests.conftest import OPERATOR
from tests.exchange_support import (
    NCMEC_CREDENTIALS,
    STOPNCII_CREDENTIALS,
    TE_TOKEN,
    NcmecHashes,
    StopNcii,
    ThreatExchange,
    ncmec_hash_server,
    stopncii_server,
    threatexchange_server,
)
from tests.integration.test_reports import submit
from tests.integration.test_review_service import decide, staff
from tests.media_support import encode, photo

T0 = 1_700_000_000


def other_pdq(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture
def image():
    data = encode(photo("coffee.png"), quality=90)
    return data, hash_image(data)


def make_bank(container, name, policy=BankPolicy.block):
    banks.create_bank(
        uow=container.uow(), matcher=container.matcher, actor=OPERATOR, name=name, policy=policy
    )


def add(container, name, kind, url, credentials=None, bank=None, vault=None):
    return exchanges.add_exchange(
        uow=container.uow(),
        actor=OPERATOR,
        vault=vault,
        name=name,
        kind=kind,
        bank=bank or name,
        url=url,
        credentials=credentials,
        now=container.clock.now(),
    )


def sync(container, name):
    return exchanges.sync_exchange(container.exchange_sync(), name=name, actor=OPERATOR)


def verdict(container, data) -> Verdict:
    hashes = hash_image(data)
    return scanning.match_hashes(container.matcher.indexes(), hashes)[1]


def status(container, name):
    return exchanges.get_exchange(uow=container.uow(readonly=True), actor=OPERATOR, name=name)


def test_a_stopncii_hash_blocks_an_upload_and_a_withdrawn_one_stops_within_one_sync(
    container, image
):
    data, hashes = image
    make_bank(container, "stopncii")
    state = StopNcii(max_page=2)
    for n in range(1, 5):
        state.put(other_pdq(n), at=T0 + n)
    state.put(hashes.pdq.hex, at=T0 + 10, cases=("SNC-7",))
    state.put(other_pdq(99), "Withdrawn", at=T0 + 11)  # never active: nothing to add
    state.put("ab" * 16, at=T0 + 12, kind="VideoMD5")
    state.put("x", at=T0 + 13, kind="Text")  # a type takedown does not match: left
    with stopncii_server(state) as server:
        add(container, "stopncii", ExchangeKind.stopncii, server.url, STOPNCII_CREDENTIALS)
        assert verdict(container, data) is Verdict.allow

        first = sync(container, "stopncii")
        assert first.ok, first.error
        assert (first.pages, first.added, first.withdrawn) == (4, 6, 0)
        assert verdict(container, data) is Verdict.block
        # Paging used the server's tokens, all within the one start timestamp.
        assert [r.get("nextPageToken", "") != "" for r in server.requests] == [
            False,
            True,
            True,
            True,
        ]
        exchange, live = status(container, "stopncii")
        assert live == 6 and exchange.checkpoint == {"start": T0 + 14, "token": ""}
        assert exchange.last_success_at is not None and exchange.errors == []

        # The victim withdraws the hash: the next pass fetches from the checkpoint only.
        state.put(hashes.pdq.hex, "Withdrawn", at=T0 + 20)
        second = sync(container, "stopncii")
        assert (second.fetched, second.withdrawn) == (1, 1)
        assert server.requests[-1]["startTimestamp"] == str(T0 + 14)
        assert verdict(container, data) is Verdict.allow
        assert status(container, "stopncii")[1] == 5

        # Listed as Active again: it matches again; Deleted: it stops again.
        state.put(hashes.pdq.hex, "Active", at=T0 + 30)
        assert sync(container, "stopncii").restored == 1
        assert verdict(container, data) is Verdict.block
        state.put(hashes.pdq.hex, "Deleted", at=T0 + 40)
        assert sync(container, "stopncii").withdrawn == 1
        assert verdict(container, data) is Verdict.allow

    # Another process's indexes, built from the store, agree.
    container.matcher.reload()
    assert verdict(container, data) is Verdict.allow
    with container.uow(readonly=True) as uow:
        entries = uow.bank_entries.page(uow.banks.get_by_name("stopncii").id, after_id=0, limit=100)
        provenance = uow.exchanges.entry_provenance([e.id for e in entries])
    [mine] = [provenance[e.id] for e in entries if e.value == hashes.pdq.hex]
    assert mine["exchange"] == "stopncii" and mine["tags"] == ["case:SNC-7"]
    assert mine["withdrawn"] is True


def test_a_malformed_record_is_skipped_and_a_bad_page_or_5xx_storm_is_retried(container):
    make_bank(container, "sn")
    state = StopNcii(max_page=2)
    for n in range(1, 7):
        state.put(other_pdq(n), at=T0 + n)
    state.faults.malformed_record_on_page = 2
    with stopncii_server(state) as server:
        add(container, "sn", ExchangeKind.stopncii, server.url, STOPNCII_CREDENTIALS)
        result = sync(container, "sn")
        assert result.ok and result.pages == 3
        assert result.added == 5 and len(result.problems) == 1
        exchange, _ = status(container, "sn")
        assert "record 0" in exchange.errors[0]["error"]

        # A page that is not JSON: the pass fails after the pages before it are stored,
        # and the next pass resumes at that page, with its token.
        for n in range(7, 13):
            state.put(other_pdq(n), at=T0 + 100 + n)
        state.faults.garbage_on_page = 5  # the new pass's second page (the fifth served)
        broken = sync(container, "sn")
        assert not broken.ok and "not JSON" in broken.error and broken.added == 2
        token = status(container, "sn")[0].checkpoint["token"]
        assert token
        resumed = sync(container, "sn")
        assert resumed.ok and resumed.added == 4
        assert server.requests[-2]["nextPageToken"] == token

        # A storm of 5xx: retried with back-off by the lane, then fine.
        state.put(other_pdq(50), at=T0 + 500)
        state.faults.fail_next = 1000
        container.clock.advance(exchanges.DEFAULT_INTERVAL + 1)
        results = exchanges.sync_due(container.exchange_sync())
        assert [r.error for r in results] == [f"GET {server.url}/FetchHashes: HTTP 500"]
        exchange, _ = status(container, "sn")
        assert exchange.attempts == 1
        wait = (exchange.next_run_at - container.clock.now()).total_seconds()
        assert 20 <= wait <= 40  # the first back-off, not the 15-minute interval
        assert exchanges.sync_due(container.exchange_sync()) == []  # not due yet
        state.faults.fail_next = 0
        container.clock.advance(wait + 1)
        [ok] = exchanges.sync_due(container.exchange_sync())
        assert ok.ok and ok.added == 1
        assert status(container, "sn")[0].attempts == 0


def test_an_expired_page_token_reads_the_window_again(container):
    make_bank(container, "sn")
    state = StopNcii(max_page=2)
    for n in range(1, 6):
        state.put(other_pdq(n), at=T0 + n)
    state.faults.garbage_on_page = 2
    with stopncii_server(state) as server:
        add(container, "sn", ExchangeKind.stopncii, server.url, STOPNCII_CREDENTIALS)
        assert not sync(container, "sn").ok
        state.tokens.clear()  # StopNCII forgot the token
        again = sync(container, "sn")
        assert again.ok and status(container, "sn")[1] == 5
        assert "nextPageToken" not in server.requests[-3]  # from the window's start


def test_a_sync_killed_mid_way_resumes_from_its_checkpoint(container, database_url, tmp_path):
    make_bank(container, "sn")
    state = StopNcii(max_page=3)
    for n in range(1, 13):
        state.put(other_pdq(n), at=T0 + n)
    state.faults.hang_on_page = 3
    credentials = tmp_path / "sn.json"
    credentials.write_text(json.dumps(STOPNCII_CREDENTIALS))
    with stopncii_server(state) as server:
        env = {
            "TAKEDOWN_DATABASE_URL": database_url,
            "TAKEDOWN_DATA_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        }
        run = [sys.executable, "-m", "takedown", "exchanges"]
        added = subprocess.run(
            [
                *run,
                "add",
                "sn",
                "--kind",
                "stopncii",
                "--bank",
                "sn",
                "--url",
                server.url,
                "--credentials-file",
                str(credentials),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert added.returncode == 0, added.stderr
        assert FUNCTIONS_KEY_NOT_IN(added.stdout + added.stderr)
        process = subprocess.Popen(
            [*run, "sync", "sn"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert state.faults.reached_hang.wait(60)
            time.sleep(0.3)  # page 2's commit is in
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        exchange, live = status(container, "sn")
        assert live == 6  # two pages stored
        token = exchange.checkpoint["token"]
        state.faults.release.set()
        state.faults.hang_on_page = None
        # The dead pass's hold lapses with its lease; then a pass resumes at page 3.
        with pytest.raises(Conflict):
            sync(container, "sn")
        container.clock.advance(exchanges.SYNC_RETRY.lease_seconds + 1)
        resumed = sync(container, "sn")
        assert resumed.ok and resumed.added == 6 and resumed.pages == 2
        assert server.requests[-2]["nextPageToken"] == token
        assert status(container, "sn")[1] == 12

        listed = subprocess.run(
            [*run, "list"], env=env, capture_output=True, text=True, timeout=120
        )
        line = json.loads(listed.stdout)
        assert line["name"] == "sn" and line["has_credentials"] is True
        assert FUNCTIONS_KEY_NOT_IN(listed.stdout + listed.stderr)


def FUNCTIONS_KEY_NOT_IN(text: str) -> bool:
    return all(v not in text for v in STOPNCII_CREDENTIALS.values())


def test_ncmec_entries_by_time_window_with_paging_and_deletions(container, image):
    data, hashes = image
    make_bank(container, "ncmec", BankPolicy.block_and_report)
    state = NcmecHashes(page_size=2)
    now = int(container.clock.time())
    state.put("img1", at=now - 3000, pdq=hashes.pdq.hex, md5=hashes.md5)
    state.put("img2", at=now - 2000, md5="cd" * 16)
    state.put("vid1", at=now - 1000, kind="video", md5="ef" * 16)
    state.put("img3", at=now - 900, member=43, pdq="12" * 32)
    state.put("img4", at=now - 800, member=43, md5="not-hex")  # a bad fingerprint
    with ncmec_hash_server(state) as server:
        add(container, "ncmec", ExchangeKind.ncmec, server.url, NCMEC_CREDENTIALS)
        first = sync(container, "ncmec")
        assert first.ok, first.error
        assert first.pages == 3 and first.added == 5 and len(first.problems) == 1
        assert verdict(container, data) is Verdict.block
        window = status(container, "ncmec")[0].checkpoint
        # Five seconds before the sync's own now (the clock runs: a second may have turned).
        assert window in ({"from": now - 5}, {"from": now - 4})
        assert "start=3" in server.requests[1] and "from=1970-01-01" in server.requests[0]

        # img1 is deleted by its member: the next window holds the tombstone.
        container.clock.advance(60)
        state.put("img1", at=now + 30, deleted=True)
        second = sync(container, "ncmec")
        assert second.ok and second.withdrawn == 2  # its PDQ and its MD5
        assert verdict(container, data) is Verdict.allow
        assert status(container, "ncmec")[1] == 3
        # The video's MD5 matches a video file with those bytes: its type is video_md5.
        with container.uow(readonly=True) as uow:
            kinds = {
                e.signal_type.value
                for e in uow.bank_entries.page(
                    uow.banks.get_by_name("ncmec").id, after_id=0, limit=10
                )
            }
        assert kinds == {"pdq", "md5", "video_md5"}


def test_wrong_credentials_are_refused_and_named_without_the_secret(container):
    make_bank(container, "sn")
    with stopncii_server() as server:
        add(
            container,
            "sn",
            ExchangeKind.stopncii,
            server.url,
            {"subscription_key": "wrong", "functions_key": "also-wrong"},
        )
        result = sync(container, "sn")
        assert result.error == f"GET {server.url}/FetchHashes: HTTP 401"
        assert "wrong" not in json.dumps(status(container, "sn")[0].errors)
    with pytest.raises(InvalidInput, match="subscription_key"):
        add(container, "sn2", ExchangeKind.stopncii, "https://x.test", {"functions_key": "k"})


def test_credentials_are_sealed_with_the_evidence_key(container):
    make_bank(container, "sn")
    vault = Vault(MasterKey.new())
    with stopncii_server(StopNcii()) as server:
        exchange = add(
            container, "sn", ExchangeKind.stopncii, server.url, STOPNCII_CREDENTIALS, vault=vault
        )
        with container.uow(readonly=True) as uow:
            stored = uow.exchanges.credentials(exchange.id)
        assert stored.key == vault.key.fingerprint
        assert FUNCTIONS_KEY_NOT_IN(stored.data.decode("latin-1"))
        deps = container.exchange_sync()
        deps.vault = vault
        assert exchanges.sync_exchange(deps, name="sn", actor=OPERATOR).ok
        deps.vault = None
        failed = exchanges.sync_exchange(deps, name="sn", actor=OPERATOR)
        assert "TAKEDOWN_EVIDENCE_KEY" in failed.error


def test_a_file_list_is_the_whole_truth_each_time(container, tmp_path, image):
    data, hashes = image
    make_bank(container, "list")
    listed = tmp_path / "list.csv"
    listed.write_text(f"signal_type,value\npdq,{hashes.pdq.hex}\nmd5,{'ab' * 16}\nmd5,zz\n")
    add(container, "list", ExchangeKind.file, str(listed))
    first = sync(container, "list")
    assert (first.added, len(first.problems)) == (2, 1) and "zz" not in first.problems[0]
    assert verdict(container, data) is Verdict.block
    assert sync(container, "list").pages == 0  # unchanged: not read into the bank again
    listed.write_text(f"md5,{'ab' * 16}\n")
    assert sync(container, "list").withdrawn == 1
    assert verdict(container, data) is Verdict.allow
    listed.write_text("md5,zz\n")  # broken: not an order to withdraw everything
    broken = sync(container, "list")
    assert not broken.ok and status(container, "list")[1] == 1


def test_feedback_reaches_each_exchange_once_per_decision(container, image):
    data, hashes = image
    make_bank(container, "ncmec", BankPolicy.block_and_report)
    make_bank(container, "sn", BankPolicy.review)
    state = NcmecHashes()
    now = int(container.clock.time())
    state.put("img1", at=now - 100, pdq=hashes.pdq.hex)
    other = encode(photo("astronaut.png"), quality=90)
    other_hashes = hash_image(other)
    sn = StopNcii()
    sn.put(other_hashes.pdq.hex, at=T0)
    with ncmec_hash_server(state) as ncmec, stopncii_server(sn) as stopncii:
        add(container, "ncmec", ExchangeKind.ncmec, ncmec.url, NCMEC_CREDENTIALS)
        add(container, "sn", ExchangeKind.stopncii, stopncii.url, STOPNCII_CREDENTIALS)
        assert sync(container, "ncmec").ok and sync(container, "sn").ok

        # An upload matching NCMEC's entry is confirmed by the matcher: NCMEC gets an upvote.
        scanned = scanning.scan_media(
            uow=container.uow(),
            matcher=container.matcher,
            actor=OPERATOR,
            data=data,
            content_id="up-1",
            account_id="acct-1",
            intake=container.intake(),
        )
        assert scanned.verdict is Verdict.block
        for _ in range(4):
            container.runtime.run_once()
        assert len(ncmec.feedback) == 1
        path, body = ncmec.feedback[0]
        assert path == "/v2/entries/42/img1/PDQ/feedback" and b"<affirmative" in body

        # An upload matching StopNCII's hash goes to review; "no violation" is NotBlocked.
        scanning.scan_media(
            uow=container.uow(),
            matcher=container.matcher,
            actor=OPERATOR,
            data=other,
            content_id="up-2",
            account_id="acct-2",
            intake=container.intake(),
        )
        receipt = submit(container, content_id="up-2", category=Category.ncii)
        reviewer = staff(container, "rev", Role.reviewer)
        decide(container, reviewer, receipt.case_id, Outcome.no_violation)
        for _ in range(4):
            container.runtime.run_once()
        assert [f["feedbackValue"] for f in sn.feedback] == ["NotBlocked"]
        assert sn.feedback[0]["hashValue"] == other_hashes.pdq.hex

        # Running the reactions again owes nothing new; each exchange heard once.
        for _ in range(3):
            container.runtime.run_once()
        assert len(ncmec.feedback) == 1 and len(sn.feedback) == 1
        with container.uow(readonly=True) as uow:
            rows = uow.exchanges.feedback_for(status(container, "sn")[0].id)
        assert [(v, s) for _, _, v, s in rows] == [("rejected", "sent")]
        assert receipt.case_status is CaseStatus.open


def test_an_allow_bank_keeps_known_benign_content_from_matching_anywhere(container, image):
    data, hashes = image
    make_bank(container, "ncmec", BankPolicy.block_and_report)
    make_bank(container, "benign", BankPolicy.allow)
    listed = [("pdq", hashes.pdq.hex)]
    banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="ncmec",
        items=[banks.EntryIn(*i) for i in listed],
    )
    assert verdict(container, data) is Verdict.block
    # A reviewer found the exchange's hash flags a harmless picture: it goes in the allow bank.
    banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="benign",
        items=[banks.EntryIn("md5", hashes.md5)],
    )
    found = scanning.match_hashes(container.matcher.indexes(), hashes)[0]
    assert [(m.bank, m.policy) for m in found] == [("benign", BankPolicy.allow)]
    assert verdict(container, data) is Verdict.allow
    scanned = scanning.scan_media(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        data=data,
        content_id="meme-1",
        account_id="a",
        intake=container.intake(),
    )
    assert scanned.verdict is Verdict.allow
    with container.uow(readonly=True) as uow:
        assert uow.cases.case_ids_for_content("meme-1") == []
    # Retroactive matching leaves it too when another bank learns its hash later.
    make_bank(container, "later", BankPolicy.review)
    banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="later",
        items=[banks.EntryIn("sha256", hashes.sha256)],
    )
    for _ in range(3):
        container.runtime.run_once()
    with container.uow(readonly=True) as uow:
        assert uow.cases.case_ids_for_content("meme-1") == []


def test_a_threatexchange_privacy_group_with_paging_and_deletions(container, image, monkeypatch):
    data, hashes = image
    make_bank(container, "te")
    state = ThreatExchange()
    state.put("1", hashes.pdq.hex, at=T0 + 1, tags=("tag1",))
    state.put("2", "ab" * 16, at=T0 + 2, kind="HASH_MD5", tags=("media_type_video",))
    state.put("3", "cd" * 16, at=T0 + 3, kind="HASH_VIDEO_MD5")
    state.put("4", "not a hash", at=T0 + 4)
    for n in range(5, 9):
        state.put(str(n), other_pdq(n), at=T0 + n)
    with threatexchange_server(state) as server:
        add(
            container,
            "te",
            ExchangeKind.threatexchange,
            f"{server.url}/{state.group}",
            {"access_token": TE_TOKEN},
        )
        monkeypatch.setattr(threatexchange, "PAGE_SIZE", 3)
        first = sync(container, "te")
        assert first.ok, first.error
        assert first.pages == 3 and first.added == 7 and len(first.problems) == 1
        assert verdict(container, data) is Verdict.block
        exchange, live = status(container, "te")
        assert exchange.checkpoint == {"start": T0 + 8} and live == 7
        # The token never rests in the checkpoint or the errors, even mid-pass.
        assert TE_TOKEN not in json.dumps([exchange.checkpoint, exchange.errors])
        assert all(r.get("access_token") == TE_TOKEN for r in state.requests)
        with container.uow(readonly=True) as uow:
            kinds = {
                e.signal_type.value
                for e in uow.bank_entries.page(uow.banks.get_by_name("te").id, after_id=0, limit=20)
            }
        assert kinds == {"pdq", "video_md5"}

        state.put("1", hashes.pdq.hex, at=T0 + 20, delete=True)
        second = sync(container, "te")
        assert second.withdrawn == 1 and state.requests[-1]["start_time"] == str(T0 + 8)
        assert verdict(container, data) is Verdict.allow

    with threatexchange_server(ThreatExchange()) as server:
        add(
            container,
            "te2",
            ExchangeKind.threatexchange,
            f"{server.url}/1234567890",
            {"access_token": "wrong"},
            bank="te",
        )
        failed = sync(container, "te2")
        assert failed.error == f"GET {server.url}/1234567890/threat_updates/: HTTP 400"


def test_an_outside_entry_that_floods_is_quarantined_until_a_person_enables_it(settings, db, image):
    from takedown.bootstrap import default_registry
    from takedown.clock import MovableClock
    from takedown.server.container import Container

    data, hashes = image
    container = Container(
        settings=settings.model_copy(update={"bank_flood_limit": 3}),
        db=db,
        registry=default_registry(),
        clock=MovableClock(),
    )
    make_bank(container, "shared")
    make_bank(container, "ours")
    added = banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="shared",
        items=[banks.EntryIn("md5", hashes.md5, "partner list")],
    )
    [entry] = added.entries

    def scan(n):
        return scanning.scan_media(
            uow=container.uow(),
            matcher=container.matcher,
            actor=OPERATOR,
            data=data,
            content_id=f"up-{n}",
            account_id="a",
        )

    assert [scan(n).verdict for n in range(4)] == [Verdict.block] * 4  # the 4th trips it
    flooded = scan(4)
    assert flooded.verdict is Verdict.review
    assert [(m.bank, m.policy) for m in flooded.matches] == [("shared", BankPolicy.review)]
    container.matcher.reload()  # another process's indexes agree
    assert verdict(container, data) is Verdict.review
    with container.uow(readonly=True) as uow:
        [held] = [e for e in uow.bank_entries.page(entry.bank_id, after_id=0, limit=5)]
        assert held.quarantined_at is not None
        assert [a.action for a in uow.audit.list(target_type="bank_entry")] == [
            "bank.entry_quarantined"
        ]
    # A person looks and enables it: it acts again.
    banks.set_entry_disabled(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="shared",
        entry_id=entry.id,
        disabled=False,
    )
    assert verdict(container, data) is Verdict.block
    # The team's own confirmed media is never quarantined, however fast it spreads.
    banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="ours",
        items=[banks.EntryIn("sha256", hashes.sha256, "confirmed")],
    )
    container.clock.advance(3601)  # the partner entry's hour is over
    assert all(scan(n).verdict is Verdict.block for n in range(10, 18))
    with container.uow(readonly=True) as uow:
        quarantined = uow.bank_entries.quarantined_ids()
    assert quarantined == [entry.id]  # again, after eight more: but not ours


def _withdrawn_after_retro(container, data, hashes, *, reported: bool):
    """old-1 uploaded before StopNCII knew its hash (and reported by a person when
    ``reported``); the hash arrives (retroactive matching), then is withdrawn. The case."""
    make_bank(container, "sn", BankPolicy.review)
    scanning.scan_media(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        data=data,
        content_id="old-1",
        account_id="a",
    )
    if reported:
        submit(container, content_id="old-1", category=Category.ncii)
    state = StopNcii()
    state.put(hashes.pdq.hex, at=T0)
    with stopncii_server(state) as server:
        add(container, "sn", ExchangeKind.stopncii, server.url, STOPNCII_CREDENTIALS)
        assert sync(container, "sn").added == 1
        for _ in range(3):
            container.runtime.run_once()  # retroactive matching opens or joins a case
        state.put(hashes.pdq.hex, "Withdrawn", at=T0 + 10)
        assert sync(container, "sn").withdrawn == 1
        for _ in range(3):
            container.runtime.run_once()
    with container.uow(readonly=True) as uow:
        [case_id] = uow.cases.case_ids_for_content("old-1")
    return case_id


def notes(container, case_id):
    with container.uow(readonly=True) as uow:
        return [m.body for m in uow.case_messages.for_case(case_id) if m.kind == "note"]


def test_a_withdrawn_hash_flags_the_open_case_its_automatic_report_opened(container, image):
    data, hashes = image
    case_id = _withdrawn_after_retro(container, data, hashes, reported=False)
    [note] = notes(container, case_id)
    assert "withdrew hashes of the bank sn" in note
    with container.uow(readonly=True) as uow:
        assert uow.cases.get(case_id).status is CaseStatus.open  # nothing enforced
        assert [r.source.value for r in uow.reports.for_case(case_id)] == ["scan"]
        actions = [a.action for a in uow.audit.list(target_type="case", target_id=str(case_id))]
    assert "case.basis_withdrawn" in actions
    # The reviewer sees it; a reporter never would (it is not a message to them).
    for _ in range(2):
        container.runtime.run_once()
    assert len(notes(container, case_id)) == 1


def test_a_case_a_person_reported_keeps_no_note_when_the_hash_is_withdrawn(container, image):
    data, hashes = image
    case_id = _withdrawn_after_retro(container, data, hashes, reported=True)
    with container.uow(readonly=True) as uow:
        assert [r.source.value for r in uow.reports.for_case(case_id)][-1] == "scan"
    assert notes(container, case_id) == []


def test_a_check_tries_each_kinds_address_and_credentials(container, tmp_path):
    make_bank(container, "b")
    listed = tmp_path / "list.csv"
    listed.write_text(f"md5,{'ab' * 16}\n")

    def check(name):
        return exchanges.check_exchange(container.exchange_sync(), name=name, actor=OPERATOR)

    te = ThreatExchange()
    with (
        ncmec_hash_server() as ncmec,
        stopncii_server() as sn,
        threatexchange_server(te) as group,
    ):
        add(container, "ncmec", ExchangeKind.ncmec, ncmec.url, NCMEC_CREDENTIALS, bank="b")
        add(container, "sn", ExchangeKind.stopncii, sn.url, STOPNCII_CREDENTIALS, bank="b")
        add(
            container,
            "te",
            ExchangeKind.threatexchange,
            f"{group.url}/{te.group}",
            {"access_token": TE_TOKEN},
            bank="b",
        )
        add(container, "list", ExchangeKind.file, str(listed), bank="b")
        add(
            container,
            "bad",
            ExchangeKind.ncmec,
            ncmec.url,
            {"username": "u", "password": "wrong"},
            bank="b",
        )
        assert check("ncmec") == (True, "NCMEC member 1 (Test Platform)")
        assert check("sn") == (True, "StopNCII answers FetchHashes (no more records)")
        assert check("te") == (True, f"ThreatExchange privacy group {te.group} (Test group)")
        assert check("list") == (True, "the list reads: 1 lines, 37 bytes")
        assert check("bad") == (False, f"GET {ncmec.url}/v2/status: HTTP 401")
        assert "wrong" not in check("bad")[1]
    with container.uow(readonly=True) as uow:  # a check changes nothing
        assert all(e.last_fetch_at is None for e in uow.exchanges.all())


def test_no_feedback_on_a_minor_until_the_second_senior_agrees(container, image):
    """A "no violation" about a minor is a proposal until a second senior agrees: the
    exchange hears nothing of the proposal, and one downvote after the agreement."""
    data, hashes = image
    make_bank(container, "ncmec", BankPolicy.review)  # a person decides, not the matcher
    state = NcmecHashes()
    state.put("img1", at=int(container.clock.time()) - 100, pdq=hashes.pdq.hex)
    with ncmec_hash_server(state) as ncmec:
        add(container, "ncmec", ExchangeKind.ncmec, ncmec.url, NCMEC_CREDENTIALS)
        assert sync(container, "ncmec").ok
        scanning.scan_media(
            uow=container.uow(),
            matcher=container.matcher,
            actor=OPERATOR,
            data=data,
            content_id="kid",
            account_id="a",
            intake=container.intake(),
        )
        case_id = submit(container, content_id="kid", category=Category.csam).case_id
        first = staff(container, "senior1", Role.senior_reviewer, child_safety=True)
        decide(container, first, case_id, Outcome.no_violation)
        for _ in range(3):
            container.runtime.run_once()
        with container.uow(readonly=True) as uow:
            assert uow.cases.get(case_id).status is CaseStatus.pending_second_review
        assert ncmec.feedback == []
        second = staff(container, "senior2", Role.senior_reviewer, child_safety=True)
        decide(container, second, case_id, Outcome.no_violation)
        for _ in range(3):
            container.runtime.run_once()
        with container.uow(readonly=True) as uow:
            assert uow.cases.get(case_id).status is CaseStatus.closed
        [(path, body)] = ncmec.feedback
        assert path == "/v2/entries/42/img1/PDQ/feedback" and b"<negative" in body
