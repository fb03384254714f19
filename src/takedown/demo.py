"""Sample data for ``make demo``: one account per role and a platform API key.

Passwords are generated on each run and printed, never fixed in code: a demo left running
on a reachable address must not have known credentials.
"""

from __future__ import annotations

import secrets

from takedown.identity import Principal, Role, Scope
from takedown.server.container import Container
from takedown.services import accounts, keys

DEMO_USERS = {
    "admin": Role.admin,
    "lead": Role.child_safety_lead,
    "reviewer": Role.reviewer,
    "senior": Role.senior_reviewer,
    "compliance": Role.compliance,
}


def load_demo(container: Container) -> list[str]:
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
    issued = keys.create_api_key(
        uow=container.uow(), actor=operator, name="demo platform", scopes=[Scope.scan, Scope.report]
    )
    lines.append(f"platform API key (scan, report): {issued.secret}")
    return lines
