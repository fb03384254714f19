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

from takedown.identity import Principal, Role, Scope
from takedown.matching import BankPolicy
from takedown.media import hash_image
from takedown.server.container import Container
from takedown.services import accounts, keys
from takedown.services import banks as banks_service

DEMO_KEY = "demo platform"
DEMO_USERS = {
    "admin": Role.admin,
    "lead": Role.child_safety_lead,
    "reviewer": Role.reviewer,
    "senior": Role.senior_reviewer,
    "compliance": Role.compliance,
}


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
                uow=container.uow(), actor=operator, name=name, role=role, password=password
            )
        lines.append(f"login {name:<10} password {password}   ({role.value})")
    # One demo key at a time: the last run's stops working when this run's is made.
    for old in keys.list_api_keys(uow=container.uow(readonly=True), actor=operator):
        if old.name == DEMO_KEY and old.revoked_at is None:
            accounts.revoke_credential(uow=container.uow(), actor=operator, key_pk=old.id)
    issued = keys.create_api_key(
        uow=container.uow(), actor=operator, name=DEMO_KEY, scopes=[Scope.scan, Scope.report]
    )
    lines.append(f"platform API key (scan, report): {issued.secret}")
    sample = _sample_bank(container, operator)
    lines.append(
        f"a sample image whose hashes are banked (bank demo-known, policy review): {sample}"
    )
    lines.append(
        f"try: curl -H 'Authorization: Bearer {issued.secret}' -F media=@{sample} "
        f"-F content_id=demo-1 -F account_id=demo-user {base_url}/v1/scan"
    )
    return lines


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
