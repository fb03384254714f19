"""Roles, scopes and the permissions they grant.

Why permissions and not role checks in routes? A route says *what* it needs
(``Permission.keys_manage``); which roles and scopes grant that is policy, kept in the two
tables below so it can be read, tested and changed in one place. A route that declares
nothing is refused (see ``takedown.api.security``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class IdentityError(Exception):
    """Base of the identity errors."""


class NotAuthenticated(IdentityError):
    """No credential, or one that is unknown, expired, revoked or locked."""


class Forbidden(IdentityError):
    """The principal is known but may not do this: it lacks ``permission``, or (with
    ``permission`` None) the request breaks a rule such as a missing CSRF token."""

    def __init__(self, message: str, *, permission: Permission | None = None) -> None:
        super().__init__(message)
        self.permission = permission


class Role(StrEnum):
    """Staff roles, from least to most trusted in review; ``admin`` runs the installation."""

    reviewer = "reviewer"
    senior_reviewer = "senior_reviewer"
    child_safety_lead = "child_safety_lead"
    compliance = "compliance"
    admin = "admin"


class Scope(StrEnum):
    """What an API key may be used for. A key holds one or more scopes."""

    scan = "scan"  # a platform's upload path
    report = "report"  # a platform's report button
    trusted_flagger = "trusted_flagger"  # DSA Art. 22 trusted flaggers
    law_enforcement = "law_enforcement"  # police and agencies
    metrics = "metrics"  # a Prometheus scraper


class Permission(StrEnum):
    console_view = "console:view"
    account_self = "account:self"
    users_manage = "users:manage"
    keys_manage = "keys:manage"
    audit_read = "audit:read"
    metrics_read = "metrics:read"
    banks_read = "banks:read"
    banks_manage = "banks:manage"
    scan = "scan"
    reports_submit = "reports:submit"
    reports_as_trusted_flagger = "reports:trusted_flagger"
    reports_as_law_enforcement = "reports:law_enforcement"
    cases_read = "cases:read"  # the queue and the case page
    cases_review = "cases:review"  # claim, release and decide cases
    cases_lead = "cases:lead"  # assign, hold, lead views, the child-safety grant
    appeals_submit = "appeals:submit"  # a platform posts an uploader's appeal
    actions_pull = "actions:pull"  # a platform pulls and acknowledges its actions
    actions_manage = "actions:manage"  # see failed deliveries and retry them
    evidence_read = "evidence:read"  # list and open a case's preserved evidence
    evidence_hold = "evidence:hold"  # set and lift legal holds
    ncmec_read = "ncmec:read"  # see CyberTipline drafts and filings
    ncmec_file = "ncmec:file"  # change a draft, file it, resolve a filing needing attention
    # statements of reasons and transparency reports (figures, never a case's details)
    transparency_read = "transparency:read"


_STAFF = frozenset({Permission.console_view, Permission.account_self, Permission.reports_submit})

_REVIEW = frozenset({Permission.cases_read, Permission.cases_review})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.reviewer: _STAFF | _REVIEW,
    Role.senior_reviewer: _STAFF | _REVIEW | {Permission.banks_read},
    Role.child_safety_lead: _STAFF
    | _REVIEW
    | {
        Permission.cases_lead,
        Permission.actions_manage,
        Permission.evidence_read,
        Permission.ncmec_read,
        Permission.audit_read,
        Permission.banks_read,
        Permission.banks_manage,
        Permission.transparency_read,
    },
    Role.compliance: _STAFF
    | {
        Permission.cases_read,
        Permission.audit_read,
        Permission.banks_read,
        Permission.evidence_read,
        Permission.evidence_hold,
        Permission.ncmec_read,
        Permission.ncmec_file,
        Permission.transparency_read,
    },
    Role.admin: _STAFF
    | {
        Permission.users_manage,
        Permission.keys_manage,
        Permission.actions_manage,
        Permission.audit_read,
        Permission.metrics_read,
        Permission.banks_read,
        Permission.banks_manage,
        Permission.transparency_read,
    },
}

SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.scan: frozenset({Permission.scan, Permission.actions_pull}),
    Scope.report: frozenset({Permission.reports_submit, Permission.appeals_submit}),
    Scope.trusted_flagger: frozenset(
        {Permission.reports_submit, Permission.reports_as_trusted_flagger}
    ),
    Scope.law_enforcement: frozenset(
        {Permission.reports_submit, Permission.reports_as_law_enforcement}
    ),
    Scope.metrics: frozenset({Permission.metrics_read}),
}


# Roles that see cases about minors by the role itself; others need the grant
# (``Principal.child_safety``: ``takedown users add NAME --role reviewer --child-safety``).
CHILD_SAFETY_ROLES = frozenset({Role.child_safety_lead, Role.compliance})
# Roles whose agreement makes a four-eyes proposal a decision (``cases.review``).
SENIOR_ROLES = frozenset({Role.senior_reviewer, Role.child_safety_lead})


class PrincipalKind(StrEnum):
    staff_session = "staff_session"  # a person logged in to the console
    staff_token = "staff_token"  # a person acting through a personal API token
    api_key = "api_key"  # a platform, trusted flagger, agency or scraper
    system = "system"  # the CLI run by an operator on the host, and the workers
    public = "public"  # anyone, through the public report page (no credential)


@dataclass(frozen=True)
class Principal:
    """Who is acting. ``subject_id`` is the user id for staff and the key id for API keys."""

    kind: PrincipalKind
    subject_id: int | None
    name: str
    role: Role | None = None
    scopes: frozenset[Scope] = frozenset()
    credential_id: int | None = None
    # The child-safety grant of a staff member (see ``sees_minor_safety``).
    child_safety_grant: bool = False
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        if self.kind is PrincipalKind.system:
            perms = frozenset(Permission)
        elif self.kind is PrincipalKind.public:
            perms = frozenset({Permission.reports_submit})
        elif self.kind is PrincipalKind.api_key:
            perms = frozenset().union(*(SCOPE_PERMISSIONS[s] for s in self.scopes))
        else:
            perms = ROLE_PERMISSIONS[self.role] if self.role else frozenset()
        object.__setattr__(self, "permissions", perms)

    @property
    def is_staff(self) -> bool:
        return self.kind in (PrincipalKind.staff_session, PrincipalKind.staff_token)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def sees_minor_safety(self) -> bool:
        """Whether this principal may see cases about minors: staff with the grant or a role
        that holds it, and the operator's CLI."""
        if self.kind is PrincipalKind.system:
            return True
        return self.is_staff and (
            self.child_safety_grant or (self.role is not None and self.role in CHILD_SAFETY_ROLES)
        )

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """The operator at the host's shell, or a worker: trusted by being on the machine."""
        return cls(kind=PrincipalKind.system, subject_id=None, name=name)


def require(principal: Principal | None, permission: Permission) -> Principal:
    """Return ``principal`` if it holds ``permission``.

    Raises ``NotAuthenticated`` when there is no principal and ``Forbidden`` when it lacks
    the permission. Example::

        actor = require(actor, Permission.keys_manage)
    """
    if principal is None:
        raise NotAuthenticated("authentication required")
    if not principal.can(permission):
        raise Forbidden(f"this needs the {permission} permission", permission=permission)
    return principal
