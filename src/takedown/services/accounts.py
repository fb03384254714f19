"""Staff accounts: create, disable, unlock; log in and out; resolve a credential.

Login lock-out (``LoginPolicy``): ``login_max_failures`` wrong passwords for an account from
one client address lock the account *for that address* for ``login_lockout_seconds``, so a
stranger who knows an admin's name locks out only themselves; four times as many from any
addresses lock it for everyone, against a guess spread over many addresses, except for the
browsers that have logged in to it before (a device cookie), so strangers cannot lock its owner
out. Every address is
also held to ``login_address_limit`` failed logins in all, after which it is refused (429)
before any password is checked. Failures are committed *before* the error is raised, so an
attacker cannot dodge a counter by dropping the connection. The message never says whether
the name exists or the account is locked; the audit log does.

An admin cannot disable their own account, nor the last active admin: someone must always be
able to manage the rest. ``enable_user`` undoes ``disable_user``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from takedown.identity import (
    AccountLockedOut,
    ApiKey,
    CredentialIssued,
    CredentialRevoked,
    Forbidden,
    NotAuthenticated,
    Permission,
    PermissionChanged,
    Principal,
    PrincipalKind,
    Role,
    SecretKind,
    User,
    UserCreated,
    check_password_policy,
    digests_match,
    hash_password,
    hash_secret,
    issue_secret,
    parse_secret,
    require,
    verify_password,
)
from takedown.services import audit, ratelimits
from takedown.services.errors import Busy, Conflict, InvalidInput, NotFound, RateLimited
from takedown.services.ratelimits import RateLimit
from takedown.store.types import utcnow
from takedown.store.uow import UnitOfWork
from takedown.store.work import Work

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
LOGIN_FAILED = "invalid name or password, or the account is locked"
# Verified against when the name is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class LoginPolicy:
    """``max_failures`` wrong passwords for one account from one address lock that account
    for that address for ``lockout``; ``max_failures`` × ``ACCOUNT_WIDE`` from any addresses
    lock it for everyone (a guess spread over many addresses). ``address_limit``: failed
    logins one address may make in all, whatever the accounts (None: no limit). ``verify``:
    what checks a password against its hash (a server's ``PasswordChecks.verify``, which
    keeps the checks off the cores intake needs); ``verify_password`` in this thread when
    None. ``trusted_verify``: the same for a login from a browser the account trusts (a device
    cookie it logged in with), which a server checks before strangers' guesses
    (``PasswordChecks.verify(first=True)``); ``verify`` when None. ``busy``: whether
    ``verify`` would refuse the next check now (``PasswordChecks.busy``); a login is then
    refused ``Busy`` before it reads or counts anything, unless its browser presents a device
    cookie, which is read first to tell whether it is trusted. ``commit``: what
    commits a login's outcome (a work function) and returns its result: a server's
    group-commit writer (``GroupCommitter.call``); a transaction of the login's own when
    None."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    session_ttl: timedelta = timedelta(hours=12)
    address_limit: RateLimit | None = None
    verify: Callable[[str, str], bool] | None = None
    trusted_verify: Callable[[str, str], bool] | None = None
    busy: Callable[[], bool] | None = None
    commit: Callable[[Work[LoginOutcome]], LoginOutcome] | None = None


ACCOUNT_WIDE = 4
LOGIN_BUSY = "this server is checking too many logins; try again in a moment"
DEVICE_TRUST = timedelta(days=180)
"""How long a browser that logged in stays trusted through the account-wide lock without
logging in again (the device cookie lives as long)."""


@dataclass(frozen=True)
class LoginResult:
    user: User
    session_secret: str
    csrf_token: str
    expires_at: datetime
    device_secret: str  # the device cookie to set: this browser has logged in to the account


LoginOutcome = LoginResult | ratelimits.RateVerdict | None
"""What a login's write half returns (``_LoginOutcome``): the session, the address limit's
refusal, or None for a recorded failure."""


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    csrf_token: str | None = None  # set for cookie sessions: unsafe requests must echo it


@dataclass(frozen=True)
class IssuedCredential:
    key: ApiKey
    secret: str  # shown once


def create_user(
    *,
    uow: UnitOfWork,
    actor: Principal,
    name: str,
    role: Role,
    password: str | None,
    child_safety: bool = False,
) -> User:
    """Create a staff account. ``password`` None makes an account that can only use tokens;
    ``child_safety`` grants the permission to see cases about minors.

    Raises ``InvalidInput`` for a bad name, ``WeakPassword``, ``Conflict`` if the name is taken.
    """
    require(actor, Permission.users_manage)
    if not NAME_RE.match(name):
        raise InvalidInput(
            "name must be 1-64 characters: lowercase letters, digits, '.', '_' or '-'",
            field="name",
        )
    if password is not None:
        check_password_policy(password)
    password_hash = hash_password(password) if password is not None else None
    with uow:
        if uow.users.get_by_name(name):
            raise Conflict(f"a user named {name!r} exists", field="name")
        user = uow.users.add(name=name, role=role, password_hash=password_hash)
        if child_safety:
            uow.users.update(user.id, child_safety=True)
            user = replace(user, child_safety=True)
        audit.record(
            uow,
            actor=actor,
            action="user.created",
            target_type="user",
            target_id=user.id,
            details={"name": name, "role": role.value, "child_safety": child_safety},
        )
        uow.publish(UserCreated(user_id=user.id, name=name, role=role.value))
        uow.commit()
    return user


def set_child_safety(*, uow: UnitOfWork, actor: Principal, user_id: int, granted: bool) -> User:
    """Grant or withdraw the child-safety permission (an admin, or a child-safety lead). It
    takes effect on the member's next request (staff credentials are checked on every one)."""
    if not (actor.can(Permission.users_manage) or actor.can(Permission.cases_lead)):
        raise Forbidden(
            "granting the child-safety permission needs users:manage or cases:lead",
            permission=Permission.cases_lead,
        )
    with uow:
        user = _user_by_id(uow, user_id)
        uow.users.update(user.id, child_safety=granted)
        audit.record(
            uow,
            actor=actor,
            action="user.child_safety_granted" if granted else "user.child_safety_withdrawn",
            target_type="user",
            target_id=user.id,
            details={"name": user.name},
        )
        uow.publish(PermissionChanged(user_id=user.id, name=user.name))
        uow.commit()
    return replace(user, child_safety=granted)


def set_reveal_cap(*, uow: UnitOfWork, actor: Principal, user_id: int, cap: int | None) -> User:
    """A lead's daily cap on how many originals a reviewer may reveal (None: the default)."""
    require(actor, Permission.cases_lead)
    if cap is not None and not 0 <= cap <= 10_000:
        raise InvalidInput("a daily cap is 0 to 10000 reveals", field="cap")
    with uow:
        user = _user_by_id(uow, user_id)
        uow.users.update(user.id, daily_reveal_cap=cap)
        audit.record(
            uow,
            actor=actor,
            action="user.reveal_cap_set",
            target_type="user",
            target_id=user.id,
            details={"name": user.name, "cap": cap},
        )
        uow.commit()
    return replace(user, daily_reveal_cap=cap)


def set_review_view(
    *,
    uow: UnitOfWork,
    actor: Principal,
    blur_radius: int | None,
    always_grayscale: bool,
    always_warn: bool,
) -> User:
    """A reviewer's own choices for how media is shown to them: at least ``blur_radius``,
    grayscale and a warning screen for every category. Each only adds to the settings."""
    require(actor, Permission.cases_read)
    if not actor.is_staff or actor.subject_id is None:
        raise InvalidInput("only staff members choose how media is shown to them")
    if blur_radius is not None and not 4 <= blur_radius <= 200:
        raise InvalidInput("blur is 4 to 200 pixels", field="blur_radius")
    with uow:
        user = _user_by_id(uow, actor.subject_id)
        values = {
            "blur_radius": blur_radius,
            "always_grayscale": always_grayscale,
            "always_warn": always_warn,
        }
        uow.users.update(user.id, **values)
        audit.record(
            uow,
            actor=actor,
            action="user.review_view_set",
            target_type="user",
            target_id=user.id,
            details=values,
        )
        uow.commit()
    return replace(
        user, blur_radius=blur_radius, always_grayscale=always_grayscale, always_warn=always_warn
    )


def set_password(*, uow: UnitOfWork, actor: Principal, name: str, password: str) -> User:
    require(actor, Permission.users_manage)
    check_password_policy(password)
    password_hash = hash_password(password)
    with uow:
        user = _user_by_name(uow, name)
        uow.users.update(user.id, password_hash=password_hash, failed_logins=0, locked_until=None)
        # A new password is often set because the old one leaked: whatever the old one gave
        # (sessions, personal tokens, the browsers trusted through a lock-out) ends with it.
        now = utcnow()
        uow.staff_sessions.revoke_all_of_user(user.id, now)
        revoked = uow.keys.revoke_all_of_user(user.id, now)
        uow.login_devices.forget_user(user.id)
        audit.record(
            uow,
            actor=actor,
            action="user.password_set",
            target_type="user",
            target_id=user.id,
            details={"tokens_revoked": revoked},
        )
        uow.commit()
    return user


def set_role(*, uow: UnitOfWork, actor: Principal, user_id: int, role: Role) -> User:
    """Give a staff member another role. What the old role gave ends at once: their console
    sessions and personal tokens end (they log in again, and make new tokens, under the new
    role). Raises ``Conflict`` for one's own role and for the last active admin."""
    require(actor, Permission.users_manage)
    with uow:
        user = _user_by_id(uow, user_id)
        if user.role is role:
            return user
        _not_own_nor_last_admin(uow, actor, user, "change your own role")
        uow.users.update(user_id, role=role)
        revoked = _end_access(uow, user_id)
        audit.record(
            uow,
            actor=actor,
            action="user.role_set",
            target_type="user",
            target_id=user_id,
            details={"from": user.role.value, "to": role.value, "tokens_revoked": revoked},
        )
        uow.commit()
        updated = uow.users.get(user_id)
    assert updated is not None
    return updated


def _not_own_nor_last_admin(uow: UnitOfWork, actor: Principal, user: User, doing: str) -> None:
    """An admin does not take away their own access, and the last active admin stays one."""
    if actor.subject_id == user.id and actor.kind is not PrincipalKind.system:
        raise Conflict(f"you cannot {doing}; ask another admin")
    if not (user.active and user.role is Role.admin):
        return
    admins = [u for u in uow.users.list() if u.role is Role.admin and u.active]
    if len(admins) <= 1:
        raise Conflict(
            f"{user.name} is the last active admin; make another admin first, or no one "
            "could manage accounts"
        )


def _end_access(uow: UnitOfWork, user_id: int, now: datetime | None = None) -> int:
    """End the account's console sessions and personal tokens; how many tokens ended."""
    now = now or utcnow()
    uow.staff_sessions.revoke_all_of_user(user_id, now)
    return uow.keys.revoke_all_of_user(user_id, now)


def list_users(*, uow: UnitOfWork, actor: Principal) -> list[User]:
    require(actor, Permission.users_manage)
    with uow:
        return uow.users.list()


def disable_user(*, uow: UnitOfWork, actor: Principal, user_id: int) -> User:
    """Disable an account and end its sessions and personal tokens at once. Raises
    ``Conflict`` for one's own account and for the last active admin."""
    require(actor, Permission.users_manage)
    now = utcnow()
    with uow:
        user = _user_by_id(uow, user_id)
        _not_own_nor_last_admin(uow, actor, user, "disable your own account")
        uow.users.update(user_id, active=False)
        revoked = _end_access(uow, user_id, now)
        audit.record(
            uow,
            actor=actor,
            action="user.disabled",
            target_type="user",
            target_id=user_id,
            details={"tokens_revoked": revoked},
        )
        uow.commit()
        updated = uow.users.get(user_id)
    assert updated is not None
    return updated


def enable_user(*, uow: UnitOfWork, actor: Principal, user_id: int) -> User:
    """Enable a disabled account again (its old sessions and tokens stay ended; it logs in
    afresh)."""
    require(actor, Permission.users_manage)
    with uow:
        _user_by_id(uow, user_id)
        uow.users.update(user_id, active=True, failed_logins=0, locked_until=None)
        audit.record(uow, actor=actor, action="user.enabled", target_type="user", target_id=user_id)
        uow.commit()
        updated = uow.users.get(user_id)
    assert updated is not None
    return updated


def unlock_user(
    *,
    uow: UnitOfWork,
    actor: Principal,
    name: str | None = None,
    user_id: int | None = None,
) -> User:
    """End an account's lock-out (named by ``name`` or ``user_id``), for everyone and every
    address."""
    require(actor, Permission.users_manage)
    with uow:
        user = _user_by_name(uow, name) if name is not None else _user_by_id(uow, user_id or 0)
        uow.users.update(user.id, failed_logins=0, locked_until=None)
        uow.rate_counters.forget_bucket_prefix(_account_limit_name(user.id))
        audit.record(
            uow, actor=actor, action="user.unlocked", target_type="user", target_id=user.id
        )
        uow.commit()
    return user


def _user_by_id(uow: UnitOfWork, user_id: int) -> User:
    user = uow.users.get(user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _user_by_name(uow: UnitOfWork, name: str) -> User:
    user = uow.users.get_by_name(name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def _principal_for(user: User, kind: PrincipalKind, credential_id: int) -> Principal:
    return Principal(
        kind=kind,
        subject_id=user.id,
        name=user.name,
        role=user.role,
        credential_id=credential_id,
        child_safety_grant=user.child_safety,
    )


def login(
    *,
    uow: UnitOfWork,
    name: str,
    password: str,
    policy: LoginPolicy,
    client: str | None = None,
    device: str | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """Check a password and open a session.

    Raises ``NotAuthenticated`` (one message for every failure) and records why in the audit
    log: unknown name, wrong password, disabled or locked account; ``RateLimited`` when the
    client address is past ``policy.address_limit`` (nothing is checked then); ``Busy``,
    before anything is read, when the server's password checks are full (``policy.busy``)
    and the browser presents no device cookie.

    ``device`` is the device cookie the browser presented: one this account logged in with
    before is not shut out by the account-wide lock (strangers guessing from many addresses
    cannot lock the owner out), and its failures do not count towards that lock; nor is it
    shut out by the checks' queue, which the same strangers' guesses fill: its password is
    checked ahead of theirs (``policy.trusted_verify``). A successful login returns the device
    secret to set (``LoginResult.device_secret``).

    The password is checked (argon2, slow on purpose) between a read and the write that
    records the outcome, never inside a transaction: a failed login would otherwise hold
    SQLite's write lock for the whole check and stall report intake. The write reads the
    account again and refuses if its password changed, or its lock or counters changed, in
    between. It is a work function (``store.work``), committed by ``policy.commit`` where the
    server gives one (its group-commit writer, so a login never waits for or holds the write
    lock beside it), else in a transaction of its own on ``uow``.
    """
    busy = policy.busy is not None and policy.busy()
    if busy and device is None:
        raise Busy(LOGIN_BUSY, retry_after=2)
    now = now or utcnow()
    stamp = now.timestamp()
    address = hashlib.sha256((client or "unknown").encode()).hexdigest()[:32]
    with uow.spawn(readonly=True) as reading:
        refused = _address_refusal(reading, policy, address, stamp)
        if refused is not None:
            raise _address_limited(refused)
        user = reading.users.get_by_name(name)
        trusted = (
            device is not None
            and user is not None
            and reading.login_devices.user_of(hash_secret(device), used_since=now - DEVICE_TRUST)
            == user.id
        )
    if busy and not trusted:
        raise Busy(LOGIN_BUSY, retry_after=2)
    stored = user.password_hash if user is not None else None
    verify = (policy.trusted_verify if trusted else None) or policy.verify or verify_password
    matches = verify(stored or _DUMMY_HASH, password) and stored is not None
    settle = _LoginOutcome(
        name=name,
        user_id=user.id if user is not None else None,
        stored=stored,
        matches=matches,
        policy=policy,
        address=address,
        client=client,
        device=device,
        now=now,
    )
    if policy.commit is not None:
        outcome = policy.commit(settle)
    else:
        with uow:
            outcome = settle(uow)
            uow.commit()
    if isinstance(outcome, LoginResult):
        return outcome
    if outcome is not None:  # the address's limit, reached while the password was checked
        raise _address_limited(outcome)
    raise NotAuthenticated(LOGIN_FAILED)


@dataclass(frozen=True)
class _LoginOutcome:
    """The write half of a login (a work function: it may run again, and returns what
    happened rather than raising, so that a failure's record is committed): the session, the
    address limit's refusal if others' failures reached it meanwhile, or None for a failure,
    recorded."""

    name: str
    user_id: int | None
    stored: str | None
    matches: bool
    policy: LoginPolicy
    address: str
    client: str | None
    device: str | None
    now: datetime

    def __call__(self, uow: UnitOfWork) -> LoginOutcome:
        policy, address, now, client = self.policy, self.address, self.now, self.client
        stamp = now.timestamp()
        refused = _address_refusal(uow, policy, address, stamp)
        if refused is not None:
            return refused
        user = uow.users.get(self.user_id) if self.user_id is not None else None
        if user is None or user.password_hash is None:
            audit.record(
                uow,
                actor=Principal(
                    kind=PrincipalKind.system, subject_id=None, name=f"login:{self.name[:64]}"
                ),
                action="auth.login_failed",
                details={"reason": "unknown_name", "client": client},
            )
            _count_failure(uow, policy, address, stamp)
            return None
        device = self.device
        known_device = (
            device is not None
            and uow.login_devices.user_of(hash_secret(device), used_since=now - DEVICE_TRUST)
            == user.id
        )
        reason = None
        account_limit = _account_limit(user.id, policy)
        if not self.matches or user.password_hash != self.stored:
            reason = "wrong_password"
        if user.is_locked(now) and not known_device:
            reason = "locked"
        elif not ratelimits.estimate(uow, account_limit, address, now=stamp).allowed:
            reason = "locked_for_address"
        elif not user.active:
            reason = "disabled"
        if reason is not None:
            _record_failure(uow, user, reason, now, policy, client, known_device=known_device)
            _count_failure(uow, policy, address, stamp)
            if reason == "wrong_password":
                ratelimits.hit(uow, account_limit, address, now=stamp)
            return None
        issued = issue_secret(SecretKind.session)
        csrf = secrets.token_urlsafe(32)
        expires_at = now + policy.session_ttl
        session = uow.staff_sessions.add(
            key_id=issued.key_id,
            digest=issued.digest,
            user_id=user.id,
            csrf_token=csrf,
            expires_at=expires_at,
        )
        device_secret = device if known_device and device else secrets.token_urlsafe(32)
        uow.login_devices.remember(
            hash_secret(device_secret), user.id, now, forget_before=now - DEVICE_TRUST
        )
        values: dict[str, object] = {"last_login_at": now}
        if not user.is_locked(now):
            # A known device gets in through a lock strangers set; the lock stays for them.
            values |= {"failed_logins": 0, "locked_until": None}
        uow.users.update(user.id, **values)
        uow.rate_counters.forget(account_limit.bucket(address))  # failures "in a row"
        audit.record(
            uow,
            actor=_principal_for(user, PrincipalKind.staff_session, session.id),
            action="auth.login",
            target_type="user",
            target_id=user.id,
            details={"client": client, "known_device": known_device},
        )
        return LoginResult(
            user=user,
            session_secret=issued.value,
            csrf_token=csrf,
            expires_at=expires_at,
            device_secret=device_secret,
        )


def _address_refusal(
    uow: UnitOfWork, policy: LoginPolicy, address: str, now: float
) -> ratelimits.RateVerdict | None:
    """The address limit's verdict where it refuses the address now, else None."""
    if policy.address_limit is None:
        return None
    allowed = ratelimits.estimate(uow, policy.address_limit, address, now=now)
    return None if allowed.allowed else allowed


def _address_limited(refused: ratelimits.RateVerdict) -> RateLimited:
    return RateLimited(
        "too many failed logins from your address; try again later",
        retry_after=refused.retry_after,
    )


def _account_limit(user_id: int, policy: LoginPolicy) -> ratelimits.RateLimit:
    """Wrong passwords for one account, counted per client address."""
    seconds = max(1, int(policy.lockout.total_seconds()))
    return ratelimits.RateLimit(_account_limit_name(user_id), policy.max_failures, seconds)


def _account_limit_name(user_id: int) -> str:
    return f"login-account-{user_id}"


def _count_failure(uow: UnitOfWork, policy: LoginPolicy, address: str, now: float) -> None:
    if policy.address_limit is not None:
        ratelimits.hit(uow, policy.address_limit, address, now=now)


def _record_failure(
    uow: UnitOfWork,
    user: User,
    reason: str,
    now: datetime,
    policy: LoginPolicy,
    client: str | None,
    *,
    known_device: bool = False,
) -> None:
    actor = Principal(kind=PrincipalKind.system, subject_id=None, name=f"login:{user.name}")
    audit.record(
        uow,
        actor=actor,
        action="auth.login_failed",
        target_type="user",
        target_id=user.id,
        details={"reason": reason, "client": client},
    )
    if reason != "wrong_password" or known_device:
        return  # the owner's own browser is held by the per-address lock alone
    failures = user.failed_logins + 1
    if failures >= policy.max_failures * ACCOUNT_WIDE:
        until = now + policy.lockout
        uow.users.update(user.id, failed_logins=0, locked_until=until)
        audit.record(
            uow,
            actor=actor,
            action="auth.locked_out",
            target_type="user",
            target_id=user.id,
            details={"until": until.isoformat(), "failures": failures},
        )
        uow.publish(AccountLockedOut(user_id=user.id, name=user.name, locked_until=until))
    else:
        uow.users.update(user.id, failed_logins=failures)


def logout(*, uow: UnitOfWork, actor: Principal) -> None:
    if actor.kind is not PrincipalKind.staff_session or actor.credential_id is None:
        return
    with uow:
        uow.staff_sessions.revoke(actor.credential_id, utcnow())
        audit.record(
            uow, actor=actor, action="auth.logout", target_type="user", target_id=actor.subject_id
        )
        uow.commit()


def authenticate(*, uow: UnitOfWork, secret: str) -> Authenticated:
    """Turn a presented secret (bearer token or session cookie) into a principal.

    Raises ``NotAuthenticated`` if it is malformed, unknown, revoked, expired, or belongs to a
    disabled user. ``uow`` should be read-only; ``last_used_at`` is refreshed at most every
    five minutes in a separate short transaction.
    """
    parsed = parse_secret(secret)
    if parsed is None:
        raise NotAuthenticated("malformed credential")
    kind, key_id = parsed
    now = utcnow()
    with uow:
        if kind is SecretKind.session:
            session = uow.staff_sessions.get_by_key_id(key_id)
            if (
                session is None
                or not digests_match(session.digest, secret)
                or session.revoked_at is not None
                or session.expires_at <= now
            ):
                raise NotAuthenticated("session expired or ended; log in again")
            user = uow.users.get(session.user_id)
            if user is None or not user.active:
                raise NotAuthenticated("account disabled")
            return Authenticated(
                principal=_principal_for(user, PrincipalKind.staff_session, session.id),
                csrf_token=session.csrf_token,
            )
        key = uow.keys.get_by_key_id(key_id)
        if key is None or not digests_match(key.digest, secret) or key.revoked_at is not None:
            raise NotAuthenticated("unknown or revoked key")
        if (kind is SecretKind.staff_token) != key.is_personal_token:
            raise NotAuthenticated("unknown or revoked key")
        if key.user_id is not None:
            user = uow.users.get(key.user_id)
            if user is None or not user.active:
                raise NotAuthenticated("account disabled")
            principal = _principal_for(user, PrincipalKind.staff_token, key.id)
        else:
            principal = Principal(
                kind=PrincipalKind.api_key,
                subject_id=key.id,
                name=key.name,
                scopes=key.scopes,
                credential_id=key.id,
            )
    if key.last_used_at is None or now - key.last_used_at > TOUCH_INTERVAL:
        with uow.spawn() as writer:
            writer.keys.touch(key.id, now)
            writer.commit()
    return Authenticated(principal=principal)


def create_personal_token(
    *, uow: UnitOfWork, actor: Principal, user_name: str | None, label: str
) -> IssuedCredential:
    """Issue a personal API token that acts as a staff member with their role.

    ``user_name`` None issues to ``actor`` itself (staff); naming someone else needs
    ``users:manage`` (an admin, or the operator's CLI).
    """
    if user_name is None:
        require(actor, Permission.account_self)
        if not actor.is_staff or actor.subject_id is None:
            raise InvalidInput("only staff members hold personal tokens")
    else:
        require(actor, Permission.users_manage)
    label = clean_label(label)
    issued = issue_secret(SecretKind.staff_token)
    with uow:
        if user_name is None:
            assert actor.subject_id is not None  # checked above: staff have a user id
            user = uow.users.get(actor.subject_id)
        else:
            user = _user_by_name(uow, user_name)
        if user is None or not user.active:
            raise Conflict("the account is disabled")
        key = uow.keys.add(
            key_id=issued.key_id,
            digest=issued.digest,
            name=label,
            user_id=user.id,
            scopes=(),
            created_by=actor.name,
        )
        record_issued(uow, actor, key)
        uow.commit()
    return IssuedCredential(key=key, secret=issued.value)


def clean_label(label: str) -> str:
    label = label.strip()
    if not 1 <= len(label) <= 128:
        raise InvalidInput("name must be 1-128 characters", field="name")
    return label


def record_issued(uow: UnitOfWork, actor: Principal, key: ApiKey) -> None:
    scopes = sorted(s.value for s in key.scopes)
    audit.record(
        uow,
        actor=actor,
        action="credential.issued",
        target_type="api_key",
        target_id=key.id,
        details={"name": key.name, "user_id": key.user_id, "scopes": scopes},
    )
    uow.publish(CredentialIssued(key_id=key.id, name=key.name, user_id=key.user_id, scopes=scopes))


def list_personal_tokens(*, uow: UnitOfWork, actor: Principal) -> list[ApiKey]:
    require(actor, Permission.account_self)
    if actor.subject_id is None or not actor.is_staff:
        return []
    with uow:
        return uow.keys.list(user_id=actor.subject_id)


def revoke_credential(*, uow: UnitOfWork, actor: Principal, key_pk: int) -> ApiKey:
    """Revoke an API key (``keys:manage``) or a personal token (its owner, or ``users:manage``).

    Revoking twice is allowed and changes nothing. Raises ``NotFound`` for a key the actor
    may not see, so ids of other people's tokens are not disclosed.
    """
    with uow:
        key = uow.keys.get(key_pk)
        if key is None:
            raise NotFound(f"no key {key_pk}")
        if key.user_id is None:
            require(actor, Permission.keys_manage)
        elif (key.user_id != actor.subject_id or not actor.is_staff) and not actor.can(
            Permission.users_manage
        ):
            raise NotFound(f"no key {key_pk}")
        if key.revoked_at is None:
            uow.keys.revoke(key.id, utcnow())
            audit.record(
                uow,
                actor=actor,
                action="credential.revoked",
                target_type="api_key",
                target_id=key.id,
                details={"name": key.name},
            )
            uow.publish(CredentialRevoked(key_id=key.id, name=key.name))
            uow.commit()
        revoked = uow.keys.get(key.id)
    assert revoked is not None
    return revoked
