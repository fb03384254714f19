"""Every after-commit reaction (``flows.handlers``) is idempotent: run twice for the same
event, each time in a committed transaction of its own (as a crash between its effects and
the event being marked done would make it), it leaves what running once left. On SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from takedown.cases import Category
from takedown.cases.enforcement import AccountsSuspended, ContentRemoved, EvidenceWanted
from takedown.cases.review import CaseClosed
from takedown.flows import REACTIONS, handlers
from takedown.jobs import HandlerContext
from takedown.matching import BankEntriesAdded, BankPolicy
from takedown.matching.exchanges import EntriesWithdrawn, ExchangeKind
from takedown.media import hash_image
from takedown.services import banks, exchanges, scanning
from tests.conftest import OPERATOR, make_settings
from tests.exchange_support import STOPNCII_CREDENTIALS, StopNcii, stopncii_server
from tests.integration.test_reports import scan_and_bank, submit
from tests.media_support import encode, photo

TABLES = (
    "outbox",
    "reports",
    "cases",
    "case_items",
    "actions",
    "evidence_items",
    "ncmec_filings",
    "ncmec_files",
    "exchange_feedback",
    "case_messages",
)


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, tmp_path, mailbox=True)


def _counts(container) -> dict[str, int]:
    with container.db.engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in TABLES}


def _run(container, reaction, event) -> None:
    with container.uow() as uow:
        reaction(event, HandlerContext(event_id=1, attempt=1, uow=uow), container)
        uow.commit()


def _twice(container, reaction, event) -> None:
    _run(container, reaction, event)
    once = _counts(container)
    _run(container, reaction, event)
    assert _counts(container) == once, reaction.__name__


def _confirmed_csam_case(container) -> int:
    scan_and_bank(container, "post-1", "u1")
    receipt = submit(container, contact_email="parent@example.org")
    return receipt.case_id


def test_the_table_names_these_reactions():
    deferred = {r for reactions in REACTIONS.values() for r in reactions.after_commit}
    assert deferred == {
        handlers.seal_evidence_and_draft,
        handlers.tell_reporters_removed,
        handlers.queue_suspended_accounts,
        handlers.match_registry,
        handlers.owe_exchange_feedback,
        handlers.flag_withdrawn,
    }


def test_telling_reporters_of_a_removal_twice_tells_them_once(container):
    case_id = _confirmed_csam_case(container)
    submit(container, contact_email="friend@example.org")
    before = _counts(container)
    _twice(container, handlers.tell_reporters_removed, ContentRemoved(case_id, ["post-1"]))
    assert _counts(container)["outbox"] == before["outbox"] + 2  # one e-mail each


def test_a_removal_tells_a_merged_cases_reporter_the_number_they_were_given(container):
    """Reporters of a case merged into another hear of the removal under the kept case's
    number, and the e-mail names the number each was given (merges of merges too)."""
    from takedown.identity import Role
    from takedown.store.models import OutboxRow
    from tests.integration.test_case_links import merge
    from tests.integration.test_review_service import staff

    rev = staff(container, "rev", Role.reviewer)
    kept, middle, deepest = (
        submit(container, content_id=f"dup-{n}", category=Category.policy,
               contact_email=f"{n}@example.org")
        for n in ("kept", "middle", "deepest")
    )  # fmt: skip
    merge(container, rev, deepest.case_id, str(middle.case_id))
    merge(container, rev, middle.case_id, str(kept.case_id))
    removed = ContentRemoved(kept.case_id, ["dup-kept", "dup-middle", "dup-deepest"])
    _twice(container, handlers.tell_reporters_removed, removed)
    with container.uow(readonly=True) as uow:
        mails = {
            row.payload["to"]: row.payload
            for row in uow.session.query(OutboxRow).filter(
                OutboxRow.event_type == "cases.reporter_email"
            )
            if row.payload["subject"].startswith("The content you reported")
        }
    assert sorted(mails) == ["deepest@example.org", "kept@example.org", "middle@example.org"]
    numbers = sorted([middle.case_number, deepest.case_number])
    for mail in mails.values():
        assert kept.case_number in mail["subject"]
        assert (
            f"one of the numbers {numbers[0]} or {numbers[1]}: those cases were joined to case "
            f"{kept.case_number}"
        ) in mail["body"], mail


def test_sealing_and_drafting_twice_drafts_once(container):
    case_id = _confirmed_csam_case(container)
    _twice(container, handlers.seal_evidence_and_draft, EvidenceWanted(case_id, confirmed=True))
    with container.uow(readonly=True) as uow:
        assert uow.filings.get(case_id) is not None


def test_queueing_a_suspended_accounts_content_twice_queues_it_once(container):
    case_id = _confirmed_csam_case(container)
    scanning.scan_media(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        data=encode(photo("astronaut.png"), quality=90),
        content_id="post-other",
        account_id="u1",
    )
    before = _counts(container)
    event = AccountsSuspended(case_id=case_id, category=str(Category.csam), accounts=["u1"])
    _twice(container, handlers.queue_suspended_accounts, event)
    assert _counts(container)["reports"] == before["reports"] + 1


def test_matching_the_registry_twice_reports_each_item_once(container):
    scan_and_bank(container, "post-9", "u9")  # registered, then the bank learned its hash
    with container.uow(readonly=True) as uow:
        bank = next(b for b in uow.banks.list() if b.name == "known")
        [entry] = uow.bank_entries.page(bank.id, after_id=0, limit=10)
    before = _counts(container)
    event = BankEntriesAdded(bank_id=bank.id, first_entry_id=entry.id, last_entry_id=entry.id)
    _twice(container, handlers.match_registry, event)
    assert _counts(container)["reports"] == before["reports"] + 1
    with container.uow(readonly=True) as uow:
        [case_id] = uow.cases.case_ids_for_content("post-9")
        assert uow.cases.get(case_id).status.value == "confirmed"


def test_owing_an_exchange_feedback_twice_owes_it_once(container):
    data = encode(photo("coffee.png"), quality=90)
    state = StopNcii()
    state.put(hash_image(data).pdq.hex, at=100)
    banks.create_bank(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        name="sn",
        policy=BankPolicy.review,
    )
    with stopncii_server(state) as server:
        exchanges.add_exchange(
            uow=container.uow(),
            actor=OPERATOR,
            vault=None,
            name="sn",
            kind=ExchangeKind.stopncii,
            bank="sn",
            url=server.url,
            credentials=STOPNCII_CREDENTIALS,
            now=container.clock.now(),
        )
        assert exchanges.sync_exchange(container.exchange_sync(), name="sn", actor=OPERATOR).ok
    scanning.scan_media(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        data=data,
        content_id="post-5",
        account_id="u5",
    )
    receipt = submit(container, content_id="post-5", category=Category.ncii)
    before = _counts(container)
    event = CaseClosed(case_id=receipt.case_id, outcome="no_violation", reason="not them")
    _twice(container, handlers.owe_exchange_feedback, event)
    assert _counts(container)["exchange_feedback"] == before["exchange_feedback"] + 1
    other = CaseClosed(case_id=receipt.case_id, outcome="violation", reason="closed")
    _twice(container, handlers.owe_exchange_feedback, other)  # owes nothing
    assert _counts(container)["exchange_feedback"] == before["exchange_feedback"] + 1


def test_flagging_a_withdrawal_twice_notes_it_once(container):
    data = encode(photo("coffee.png"), quality=90)
    banks.create_bank(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        name="rev",
        policy=BankPolicy.review,
    )
    scanning.scan_media(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        data=data,
        content_id="post-7",
        account_id="u7",
    )
    [entry] = banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="rev",
        items=[banks.EntryIn("md5", hash_image(data).md5)],
    ).entries
    _run(container, handlers.match_registry, BankEntriesAdded(entry.bank_id, entry.id, entry.id))
    before = _counts(container)
    event = EntriesWithdrawn(bank_id=entry.bank_id, exchange="sn", entry_ids=[entry.id])
    _twice(container, handlers.flag_withdrawn, event)
    assert _counts(container)["case_messages"] == before["case_messages"] + 1


def test_every_lane_the_table_names_runs_where_its_settings_are(database_url, db, tmp_path):
    """A process with every setting runs a lane for each lane the table of reactions names,
    and each outbox lane takes exactly its own event types; without the webhook, NCMEC,
    Transparency Database and mail settings it runs only the lanes it can serve."""
    from takedown import bootstrap
    from takedown.clock import Clock
    from takedown.flows import lanes, outbox_lanes
    from takedown.jobs import Worker
    from takedown.server.container import Container

    full = make_settings(
        database_url,
        tmp_path,
        mailbox=True,
        platform_webhook_url="http://127.0.0.1:9/hook",
        platform_webhook_secret="s" * 32,
        ncmec_url="http://127.0.0.1:9/ncmec",
        ncmec_username="u",
        ncmec_password="p" * 12,
        ncmec_reporter_email="safety@platform.example",
        dsa_tdb_url="http://127.0.0.1:9/api/v1",
        dsa_tdb_token="t" * 32,
    )
    registry = bootstrap.default_registry(full)
    full_container = Container(settings=full, db=db, registry=registry)  # wires the reactions
    runtime = bootstrap.runtime(
        full,
        db,
        registry,
        writer=None,
        clock=Clock(),
        vault=None,
        exchange_sync=full_container.exchange_sync(),
    )
    # The table's lanes, the default one, and the one that runs on a schedule only.
    assert set(runtime) == set(lanes().values()) | {"events", "maintenance"}
    for lane, types in outbox_lanes().items():
        worker = runtime[lane]
        assert isinstance(worker, Worker)
        assert worker.takes - registry.catalogue.record_only == types
    ids = [runtime[lane].worker_id for lane in outbox_lanes()]
    assert len(set(ids)) == len(ids)  # no two lanes take each other's leases

    bare = make_settings(database_url, tmp_path)
    plain = bootstrap.default_registry(bare)
    Container(settings=bare, db=db, registry=plain)
    assert set(bootstrap.runtime(bare, db, plain, writer=None, clock=Clock(), vault=None)) == {
        "events",
        "evidence",
        "banks",
        "maintenance",  # the evidence purge needs no settings
    }
