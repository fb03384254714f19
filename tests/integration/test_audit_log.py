"""The audit log resists tampering: ``takedown audit verify`` names what was changed."""

import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace

from sqlalchemy import text

from takedown.identity import Role
from takedown.services import audit
from tests.conftest import OPERATOR, add_staff


def run_cli(database_url, tmp_path, *args, env_extra=None):
    env = {
        **os.environ,
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path),
        **(env_extra or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def seed(container):
    for i in range(4):
        add_staff(container, f"user{i}", Role.reviewer)
    return audit.verify(uow=container.uow(readonly=True), actor=OPERATOR)


def test_verify_passes_on_an_untouched_log(container, database_url, tmp_path):
    result = seed(container)
    assert result.ok and result.entries >= 8
    cli = run_cli(database_url, tmp_path, "audit", "verify")
    assert cli.returncode == 0, cli.stderr
    assert "intact" in cli.stderr


def test_verify_names_a_row_changed_directly_in_the_database(container, database_url, tmp_path):
    seed(container)
    with container.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor_name = 'someone-else' WHERE seq = 3"))
    cli = run_cli(database_url, tmp_path, "audit", "verify")
    assert cli.returncode == 1
    assert cli.stdout.splitlines() == ["entry 3: edited: content does not match its hash"]


def test_verify_names_a_deleted_row(container, database_url, tmp_path):
    seed(container)
    with container.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    cli = run_cli(database_url, tmp_path, "audit", "verify")
    assert cli.returncode == 1
    assert cli.stdout.splitlines()[0] == "entry 5: deleted: entries 5 are missing"


def test_verify_names_an_inserted_row(container, database_url, tmp_path):
    seed(container)
    with container.db.engine.begin() as conn:
        # Make room at 4 (in two steps: a unique key cannot shift in place), then forge it.
        conn.execute(text("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4"))
        conn.execute(text("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1004"))
        conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_name, action, "
                "target_type, target_id, details, prev_hash, hash) SELECT 4, at, actor_kind, "
                "actor_id, actor_name, 'forged.entry', target_type, target_id, details, hash, "
                "hash FROM audit_log WHERE seq = 3"
            )
        )
    cli = run_cli(database_url, tmp_path, "audit", "verify")
    assert cli.returncode == 1
    assert any(line.startswith("entry 4: ") for line in cli.stdout.splitlines()), cli.stdout


def test_every_service_write_is_audited_with_its_actor(container):
    add_staff(container, "ana", Role.admin)
    entries = audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR)
    assert [e.action for e in entries][::-1] == ["user.created", "credential.issued"]
    assert {e.actor_name for e in entries} == {"tests"}


def test_audit_head_anchors_a_later_verify(container, database_url, tmp_path):
    seed(container)
    head = run_cli(database_url, tmp_path, "audit", "head")
    assert head.returncode == 0
    anchor = head.stdout.strip()
    seq = int(anchor.split(":")[0])
    ok = run_cli(database_url, tmp_path, "audit", "verify", "--anchor", anchor)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    with container.db.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET hash = '{'ab' * 32}' WHERE seq = {seq}"))
        conn.execute(
            text(f"UPDATE audit_head SET hash = (SELECT hash FROM audit_log WHERE seq = {seq})")
        )
    bad = run_cli(database_url, tmp_path, "audit", "verify", "--anchor", anchor)
    assert bad.returncode == 1
    assert f"entry {seq}: rewritten: hash differs from the published anchor" in bad.stdout


def test_entries_about_a_case_concerning_a_minor_are_redacted_without_the_permission(container):
    """The audit log shows an admin without the child-safety permission that something was
    done, by whom and when, but not to which case, nor the reasons given: a decision's reason
    about a minor is read only by those who may read the case."""
    from takedown.cases import Category, Outcome
    from takedown.services import accounts
    from tests.integration.test_reports import PLATFORM, submit
    from tests.integration.test_review_service import decide, staff

    lead = staff(container, "lead", Role.child_safety_lead, child_safety=True)
    minor = submit(container, PLATFORM, content_id="kid-1", category=Category.csam)
    adult = submit(container, PLATFORM, content_id="ad-1", category=Category.policy)
    decide(container, lead, minor.case_id, Outcome.violation, category=Category.csam,
           reason="the secret reason")  # fmt: skip
    decide(container, lead, adult.case_id, Outcome.violation, category=Category.policy,
           reason="the plain reason")  # fmt: skip
    admin = staff(container, "root", Role.admin)

    def listed(actor, **filters):
        return audit.list_entries(uow=container.uow(readonly=True), actor=actor, **filters)

    seen = listed(admin)
    text = repr([(e.target_type, e.target_id, e.details) for e in seen])
    assert "the secret reason" not in text and "kid-1" not in text
    assert "the plain reason" in text
    redacted = [e for e in seen if e.details.get("redacted")]
    assert {e.action for e in redacted} >= {"report.received", "case.decided"}
    assert all(e.target_id is None for e in redacted)
    assert listed(admin, target_type="case", target_id=str(minor.case_id)) == []
    assert listed(admin, target_type="case", target_id=str(adult.case_id))
    with container.uow(readonly=True) as uow:
        admin_id = uow.users.get_by_name("root").id
    accounts.set_child_safety(uow=container.uow(), actor=OPERATOR, user_id=admin_id, granted=True)
    granted = replace(admin, child_safety_grant=True)
    assert "the secret reason" in repr([e.details for e in listed(granted)])


def test_export_writes_every_entry_as_json_lines_that_verify_by_themselves(
    container, database_url, tmp_path
):
    seed(container)
    out = tmp_path / "audit.jsonl"
    cli = run_cli(database_url, tmp_path, "audit", "export", "--out", str(out))
    assert cli.returncode == 0, cli.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    entries = audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR, limit=1000)
    assert [line["seq"] for line in lines] == [e.seq for e in entries]
    assert f"exported {len(entries)} entries" in cli.stderr
    # Each line's prev_hash is the hash of the line after it (newest first): a chain.
    for newer, older in itertools.pairwise(lines):
        assert newer["prev_hash"] == older["hash"]
    only = run_cli(database_url, tmp_path, "audit", "export", "--action", "user.created")
    assert only.returncode == 0, only.stderr
    shown = [json.loads(line) for line in only.stdout.splitlines()]
    assert shown and {line["action"] for line in shown} == {"user.created"}
