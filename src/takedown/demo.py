"""Sample data for ``make demo``: one account per role, a platform API key, and a bank holding
the hashes of a generated test pattern (saved under the data folder) to try ``/v1/scan`` with.

Passwords are generated on each run and printed, never fixed in code: a demo left running
on a reachable address must not have known credentials.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
from PIL import Image

from takedown.cases import Category, ReporterRole
from takedown.identity import Principal, Role, Scope
from takedown.matching import BankPolicy
from takedown.media import hash_image
from takedown.server.container import Container
from takedown.services import accounts, keys, reports
from takedown.services import banks as banks_service

DEMO_KEY = "demo platform"
DEMO_USERS = {
    "admin": Role.admin,
    "lead": Role.child_safety_lead,
    "reviewer": Role.reviewer,
    "senior": Role.senior_reviewer,
    "compliance": Role.compliance,
}
# The senior reviewer is granted the child-safety permission; the reviewer is not, so the
# demo shows both sides of the rule (leads and compliance have it by role).
DEMO_CHILD_SAFETY = frozenset({"senior"})


def load_demo(container: Container, base_url: str = "http://127.0.0.1:8000") -> list[str]:
    """Create or refresh the demo accounts; returns lines to print (name, role, password)."""
    operator = Principal.system("demo")
    lines = []
    for name, role in DEMO_USERS.items():
        password = secrets.token_urlsafe(12)
        with container.uow(readonly=True) as uow:
            exists = uow.users.get_by_name(name) is not None
        if exists:
            accounts.set_password(uow=container.uow(), actor=operator, name=name, password=password)
            accounts.unlock_user(uow=container.uow(), actor=operator, name=name)
        else:
            accounts.create_user(
                uow=container.uow(),
                actor=operator,
                name=name,
                role=role,
                password=password,
                child_safety=name in DEMO_CHILD_SAFETY,
            )
        grant = ", child-safety" if name in DEMO_CHILD_SAFETY else ""
        lines.append(f"login {name:<10} password {password}   ({role.value}{grant})")
    # One demo key at a time: the last run's stops working when this run's is made.
    for old in keys.list_api_keys(uow=container.uow(readonly=True), actor=operator):
        if old.name == DEMO_KEY and old.revoked_at is None:
            accounts.revoke_credential(uow=container.uow(), actor=operator, key_pk=old.id)
    issued = keys.create_api_key(
        uow=container.uow(), actor=operator, name=DEMO_KEY, scopes=[Scope.scan, Scope.report]
    )
    lines.append(f"platform API key (scan, report): {issued.secret}")
    container.demo_platform_key = issued.secret
    queued = _sample_reports(container)
    if queued:
        lines.append(f"{queued} sample reports wait in the review queue (/console/queue)")
    sample = _sample_bank(container, operator)
    lines.append(
        f"a sample image whose hashes are banked (bank demo-known, policy review): {sample}"
    )
    lines.append(
        f"try: curl -H 'Authorization: Bearer {issued.secret}' -F media=@{sample} "
        f"-F content_id=demo-1 -F account_id=demo-user {base_url}/v1/scan"
    )
    return lines


SAMPLE_REPORTS = [
    ("demo-post-1", Category.policy, ReporterRole.user, None, "spam in the comments"),
    ("demo-post-2", Category.ncii, ReporterRole.depicted_person, False, "a photo of me"),
    ("demo-post-3", Category.other_illegal, ReporterRole.trusted_flagger, None, "a scam"),
    ("demo-post-4", Category.csam, ReporterRole.user, True, "a child in this video"),
]


def _sample_reports(container: Container) -> int:
    """Reports about sample content ids, once, so the queue has something to show. The
    review pages show a placeholder for their media until a platform media address is set."""
    with container.uow(readonly=True) as uow:
        if uow.reports.count():
            return 0
    for content_id, category, role, minor, text in SAMPLE_REPORTS:
        reports.submit(
            uow=container.uow(),
            actor=Principal.system("demo"),
            report_in=reports.ReportCreate(
                content_id=content_id,
                category=category,
                reporter_role=role,
                depicted_minor=minor,
                description=text,
            ),
            ctx=container.intake(),
        )
    return len(SAMPLE_REPORTS)


def _sample_bank(container: Container, operator: Principal) -> Path:
    """A generated, benign test pattern saved under the data folder, banked by its hashes."""
    path = container.settings.data_dir / "demo" / "sample.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:480, 0:640]
    pattern = np.stack(
        [(x * 255 // 639), (y * 255 // 479), ((x // 40 + y // 40) % 2) * 200 + 30], axis=-1
    ).astype(np.uint8)
    Image.fromarray(pattern).save(path, "JPEG", quality=90)
    hashes = hash_image(path.read_bytes())
    with container.uow(readonly=True) as uow:
        exists = uow.banks.get_by_name("demo-known") is not None
    if not exists:
        banks_service.create_bank(
            uow=container.uow(),
            matcher=container.matcher,
            actor=operator,
            name="demo-known",
            policy=BankPolicy.review,
            description="Demo: the hashes of a generated test pattern.",
        )
    banks_service.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=operator,
        bank_name="demo-known",
        items=[
            banks_service.EntryIn("pdq", hashes.pdq.hex, "demo"),
            banks_service.EntryIn("md5", hashes.md5, "demo"),
        ],
    )
    return path.resolve()
