"""Accounts, login lock-out and credentials, through the services, on both databases."""

from datetime import timedelta

import pytest

from takedown.identity import Forbidden, NotAuthenticated, PrincipalKind, Role, Scope, WeakPassword
from takedown.services import accounts, audit, keys
from takedown.services.accounts import LoginPolicy
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.store.types import utcnow
from tests.conftest import OPERATOR, PASSWORD, add_key, add_staff

POLICY = LoginPolicy(max_failures=3, lockout=timedelta(minutes=15))


def login(container, name, password=PASSWORD, client=None, policy=POLICY, now=None):
    return accounts.login(
        uow=container.uow(), name=name, password=password, policy=policy, client=client, now=now
    )


def actions(container):
    return [
        r.action
        for r in audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR, limit=1000)
    ][::-1]


def test_login_opens_a_session_that_authenticates_as_the_user(container):
    add_staff(container, "ana", Role.senior_reviewer, token=False)
    result = login(container, "ana")
    auth = accounts.authenticate(uow=container.uow(readonly=True), secret=result.session_secret)
    assert auth.principal.name == "ana" and auth.principal.role is Role.senior_reviewer
    assert auth.principal.kind is PrincipalKind.staff_session
    assert auth.csrf_token == result.csrf_token
    assert "auth.login" in actions(container)


def test_wrong_password_and_unknown_name_give_the_same_error(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    with pytest.raises(NotAuthenticated) as wrong:
        login(container, "ana", "not-the-password")
    with pytest.raises(NotAuthenticated) as unknown:
        login(container, "nobody", "not-the-password")
    assert str(wrong.value) == str(unknown.value)


def test_repeated_failures_lock_the_account_for_that_address_only(container):
    add_staff(container, "ana", Role.admin, token=False)
    for _ in range(POLICY.max_failures):
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123", client="203.0.113.9")
    with pytest.raises(NotAuthenticated):  # even the right password, from there
        login(container, "ana", client="203.0.113.9")
    # The stranger has not locked the admin out: from her own address she logs in.
    assert login(container, "ana", client="198.51.100.1").user.name == "ana"
    with container.uow(readonly=True) as uow:
        assert not uow.users.get_by_name("ana").is_locked(utcnow())
    accounts.unlock_user(uow=container.uow(), actor=OPERATOR, name="ana")
    assert login(container, "ana", client="203.0.113.9").user.name == "ana"


def test_failures_spread_over_many_addresses_lock_the_account_for_everyone(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    for n in range(POLICY.max_failures * accounts.ACCOUNT_WIDE):
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123", client=f"192.0.2.{n}")
    with pytest.raises(NotAuthenticated):
        login(container, "ana", client="198.51.100.1")
    with container.uow(readonly=True) as uow:
        user = uow.users.get_by_name("ana")
    assert user.is_locked(utcnow())
    assert user.locked_until - utcnow() > timedelta(minutes=14)
    assert "auth.locked_out" in actions(container)
    with container.uow(readonly=True) as uow:
        assert "identity.account_locked_out" in {m for m in _outbox_types(uow)}
    accounts.unlock_user(uow=container.uow(), actor=OPERATOR, name="ana")
    assert login(container, "ana").user.name == "ana"


def test_an_address_past_its_limit_is_refused_before_any_password_is_checked(container):
    from takedown.services.errors import RateLimited
    from takedown.services.ratelimits import RateLimit

    add_staff(container, "ana", Role.reviewer, token=False)
    policy = LoginPolicy(max_failures=3, address_limit=RateLimit("login-address", 4, 900))
    # One moment for every attempt, mid-window: the limit's windows are fixed, and a run that
    # crossed a quarter hour would count its attempts in two of them.
    start = utcnow()
    now = start - timedelta(seconds=start.timestamp() % 900) + timedelta(seconds=450)
    for n in range(4):  # guesses at many accounts
        with pytest.raises(NotAuthenticated):
            login(container, f"guess{n}", "x" * 12, client="203.0.113.9", policy=policy, now=now)
    with pytest.raises(RateLimited) as refused:
        login(container, "ana", client="203.0.113.9", policy=policy, now=now)
    assert refused.value.retry_after > 0
    assert login(container, "ana", client="198.51.100.1", policy=policy, now=now).user.name == "ana"
    later = now + timedelta(minutes=31)
    ok = accounts.login(
        uow=container.uow(),
        name="ana",
        password=PASSWORD,
        policy=policy,
        client="203.0.113.9",
        now=later,
    )
    assert ok.user.name == "ana"


def test_admins_cannot_disable_themselves_or_the_last_admin_and_accounts_come_back(
    container,
):
    add_staff(container, "boss", Role.admin, token=False)
    me = login(container, "boss")
    boss = accounts.authenticate(uow=container.uow(readonly=True), secret=me.session_secret)
    with pytest.raises(Conflict, match="your own"):
        accounts.disable_user(uow=container.uow(), actor=boss.principal, user_id=me.user.id)
    with pytest.raises(Conflict, match="last active admin"):
        accounts.disable_user(uow=container.uow(), actor=OPERATOR, user_id=me.user.id)
    add_staff(container, "second", Role.admin, token=False)
    disabled = accounts.disable_user(uow=container.uow(), actor=OPERATOR, user_id=me.user.id)
    assert not disabled.active
    with pytest.raises(NotAuthenticated):
        login(container, "boss")
    enabled = accounts.enable_user(uow=container.uow(), actor=OPERATOR, user_id=me.user.id)
    assert enabled.active and login(container, "boss").user.name == "boss"
    assert "user.enabled" in actions(container)


def _outbox_types(uow):
    from sqlalchemy import select

    from takedown.store.models import OutboxRow

    return list(uow.session.scalars(select(OutboxRow.event_type)))


def test_a_success_resets_the_failure_count(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    for _ in range(POLICY.max_failures - 1):
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123")
    login(container, "ana")
    for _ in range(POLICY.max_failures - 1):
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123")
    assert login(container, "ana")


def test_logout_ends_the_session(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    result = login(container, "ana")
    auth = accounts.authenticate(uow=container.uow(readonly=True), secret=result.session_secret)
    accounts.logout(uow=container.uow(), actor=auth.principal)
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(uow=container.uow(readonly=True), secret=result.session_secret)


def test_disabling_a_user_ends_sessions_and_tokens(container):
    token = add_staff(container, "ana", Role.reviewer)
    session = login(container, "ana").session_secret
    with container.uow(readonly=True) as uow:
        user = uow.users.get_by_name("ana")
    accounts.disable_user(uow=container.uow(), actor=OPERATOR, user_id=user.id)
    for secret in (token, session):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(uow=container.uow(readonly=True), secret=secret)
    with pytest.raises(NotAuthenticated):
        login(container, "ana")


def test_api_key_is_stored_hashed_and_revocable(container):
    key_pk, secret = add_key(container, "platform", Scope.scan, Scope.report)
    with container.uow(readonly=True) as uow:
        stored = uow.keys.get(key_pk)
    assert secret not in stored.digest and stored.digest != secret
    auth = accounts.authenticate(uow=container.uow(readonly=True), secret=secret)
    assert auth.principal.scopes == {Scope.scan, Scope.report}
    accounts.revoke_credential(uow=container.uow(), actor=OPERATOR, key_pk=key_pk)
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(uow=container.uow(readonly=True), secret=secret)


def test_a_tampered_secret_with_a_real_key_id_is_refused(container):
    _, secret = add_key(container, "platform", Scope.scan)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(uow=container.uow(readonly=True), secret=forged)


def test_personal_token_acts_with_the_owners_role(container):
    token = add_staff(container, "lee", Role.child_safety_lead)
    auth = accounts.authenticate(uow=container.uow(readonly=True), secret=token)
    assert auth.principal.kind is PrincipalKind.staff_token
    assert auth.principal.role is Role.child_safety_lead and auth.csrf_token is None


def test_input_rules(container):
    with pytest.raises(InvalidInput):
        accounts.create_user(
            uow=container.uow(),
            actor=OPERATOR,
            name="Bad Name!",
            role=Role.reviewer,
            password=PASSWORD,
        )
    with pytest.raises(WeakPassword):
        accounts.create_user(
            uow=container.uow(), actor=OPERATOR, name="ana", role=Role.reviewer, password="short"
        )
    add_staff(container, "ana", Role.reviewer, token=False)
    with pytest.raises(Conflict):
        add_staff(container, "ana", Role.admin, token=False)
    with pytest.raises(InvalidInput):
        keys.create_api_key(uow=container.uow(), actor=OPERATOR, name="x", scopes=[])
    with pytest.raises(NotFound):
        accounts.revoke_credential(uow=container.uow(), actor=OPERATOR, key_pk=999)


def test_staff_cannot_revoke_someone_elses_token(container):
    add_staff(container, "ana", Role.reviewer)
    bob_token = add_staff(container, "bob", Role.reviewer)
    bob = accounts.authenticate(uow=container.uow(readonly=True), secret=bob_token).principal
    with container.uow(readonly=True) as uow:
        ana = uow.users.get_by_name("ana")
        ana_key = uow.keys.list(user_id=ana.id)[0]
    with pytest.raises(NotFound):
        accounts.revoke_credential(uow=container.uow(), actor=bob, key_pk=ana_key.id)


def test_the_password_is_checked_outside_any_write_transaction(container, monkeypatch):
    """A failed login's argon2 check (slow on purpose) must not hold the write lock: on SQLite
    that stalls every report and decision behind it. Other writers go on during the check."""
    add_staff(container, "ana", Role.reviewer, token=False)
    real_verify = accounts.verify_password
    written = []

    def verify_while_writing(stored_hash, password):
        with container.uow() as uow:  # would wait for the lock (and fail) if login held it
            audit.record(uow, actor=OPERATOR, action="test.write_during_login")
            uow.commit()
        written.append(True)
        return real_verify(stored_hash, password)

    monkeypatch.setattr(accounts, "verify_password", verify_while_writing)
    with pytest.raises(NotAuthenticated):
        login(container, "ana", "wrong-password-123")
    assert login(container, "ana").user.name == "ana"
    with pytest.raises(NotAuthenticated):
        login(container, "nobody", "wrong-password-123")
    assert len(written) == 3


def test_a_password_changed_during_the_check_is_not_let_in(container, monkeypatch):
    add_staff(container, "ana", Role.reviewer, token=False)
    real_verify = accounts.verify_password

    def verify_then_reset(stored_hash, password):
        ok = real_verify(stored_hash, password)
        accounts.set_password(
            uow=container.uow(), actor=OPERATOR, name="ana", password="a-new-password-456"
        )
        return ok

    monkeypatch.setattr(accounts, "verify_password", verify_then_reset)
    with pytest.raises(NotAuthenticated):
        login(container, "ana")  # right when checked, no longer right when the session opens


def test_strangers_cannot_lock_the_owner_out_of_a_browser_she_has_logged_in_with(container):
    """The account-wide lock (guesses spread over many addresses) holds for every browser
    but those that logged in to the account before: the owner's device cookie lets her in,
    with the right password only, while the lock stays for everyone else."""
    add_staff(container, "ana", Role.admin, token=False)
    first = login(container, "ana", client="198.51.100.1")
    for n in range(POLICY.max_failures * accounts.ACCOUNT_WIDE):
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123", client=f"192.0.2.{n}")
    with container.uow(readonly=True) as uow:
        assert uow.users.get_by_name("ana").is_locked(utcnow())

    def from_her_browser(password=PASSWORD, device=first.device_secret):
        return accounts.login(
            uow=container.uow(),
            name="ana",
            password=password,
            policy=POLICY,
            client="198.51.100.77",  # a new address: she moved
            device=device,
        )

    assert from_her_browser().user.name == "ana"
    with container.uow(readonly=True) as uow:  # still locked for strangers
        assert uow.users.get_by_name("ana").is_locked(utcnow())
    with pytest.raises(NotAuthenticated):
        login(container, "ana", client="198.51.100.2")
    with pytest.raises(NotAuthenticated):  # a made-up cookie is no one's browser
        from_her_browser(device="made-up-device-cookie")
    with pytest.raises(NotAuthenticated):  # a cookie proves the browser, not the password
        from_her_browser("wrong-password-123")
    # Another account's browser is not hers.
    add_staff(container, "bo", Role.reviewer, token=False)
    bo = login(container, "bo")
    with pytest.raises(NotAuthenticated):
        from_her_browser(device=bo.device_secret)


def test_a_new_password_ends_sessions_personal_tokens_and_trusted_browsers(container):
    token = add_staff(container, "ana", Role.reviewer)
    first = login(container, "ana", client="198.51.100.1")
    accounts.set_password(
        uow=container.uow(), actor=OPERATOR, name="ana", password="a-new-password-456"
    )
    for secret in (token, first.session_secret):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(uow=container.uow(readonly=True), secret=secret)
    with container.uow(readonly=True) as uow:
        assert uow.login_devices.user_of(accounts.hash_secret(first.device_secret)) is None
    entry = next(
        e
        for e in audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR, limit=50)
        if e.action == "user.password_set"
    )
    assert entry.details["tokens_revoked"] == 1


def test_a_browser_unused_for_longer_than_its_trust_is_a_stranger_again(container):
    """A trusted browser that has not logged in for ``DEVICE_TRUST`` is not let through the
    account-wide lock, and the account's stale browsers are forgotten at its next login."""
    add_staff(container, "ana", Role.admin, token=False)
    first = login(container, "ana", client="198.51.100.1")
    later = utcnow() + accounts.DEVICE_TRUST + timedelta(days=1)
    for n in range(POLICY.max_failures * accounts.ACCOUNT_WIDE):
        with pytest.raises(NotAuthenticated):
            accounts.login(
                uow=container.uow(),
                name="ana",
                password="wrong-password-123",
                policy=POLICY,
                client=f"192.0.2.{n}",
                now=later,
            )
    with pytest.raises(NotAuthenticated):
        accounts.login(
            uow=container.uow(),
            name="ana",
            password=PASSWORD,
            policy=POLICY,
            client="198.51.100.1",
            device=first.device_secret,
            now=later,
        )
    accounts.unlock_user(uow=container.uow(), actor=OPERATOR, name="ana")
    accounts.login(
        uow=container.uow(), name="ana", password=PASSWORD, policy=POLICY, now=later
    )  # a new browser: the stale one is forgotten
    with container.uow(readonly=True) as uow:
        assert uow.login_devices.user_of(accounts.hash_secret(first.device_secret)) is None


def test_a_login_while_the_password_checks_are_full_is_refused_before_anything_is_read(
    container,
):
    """Under a flood of logins the refused ones cost least: no read, no count, no audit
    entry, no check; the same login goes through once the checks have room."""
    from dataclasses import replace

    from takedown.services.errors import Busy

    add_staff(container, "ana", Role.reviewer, token=False)
    before = actions(container)
    checked = []

    def verify(stored, password):
        checked.append(password)
        return False

    full = replace(POLICY, busy=lambda: True, verify=verify)
    with pytest.raises(Busy) as busy:
        login(container, "ana", "a-guess", policy=full)
    assert busy.value.retry_after > 0
    assert checked == [] and actions(container) == before
    with pytest.raises(NotAuthenticated):
        login(container, "ana", "a-guess", policy=replace(full, busy=lambda: False))
    assert checked == ["a-guess"] and actions(container)[-1] == "auth.login_failed"


def test_a_new_role_ends_what_the_old_one_gave_and_never_leaves_no_admin(container):
    add_staff(container, "boss", Role.admin, token=False)
    token = add_staff(container, "ana", Role.child_safety_lead)
    session = login(container, "ana").session_secret
    me = login(container, "boss")
    boss = accounts.authenticate(uow=container.uow(readonly=True), secret=me.session_secret)
    with container.uow(readonly=True) as uow:
        ana = uow.users.get_by_name("ana")
    with pytest.raises(Conflict, match="your own"):
        accounts.set_role(uow=container.uow(), actor=boss.principal, user_id=me.user.id,
                          role=Role.reviewer)  # fmt: skip
    with pytest.raises(Conflict, match="last active admin"):
        accounts.set_role(uow=container.uow(), actor=OPERATOR, user_id=me.user.id,
                          role=Role.reviewer)  # fmt: skip
    changed = accounts.set_role(uow=container.uow(), actor=boss.principal, user_id=ana.id,
                                role=Role.reviewer)  # fmt: skip
    assert changed.role is Role.reviewer
    for secret in (token, session):  # a lead's powers end with the role
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(uow=container.uow(readonly=True), secret=secret)
    again = accounts.authenticate(
        uow=container.uow(readonly=True), secret=login(container, "ana").session_secret
    )
    assert again.principal.role is Role.reviewer and not again.principal.sees_minor_safety
    assert "user.role_set" in actions(container)
    with pytest.raises(Forbidden):
        accounts.set_role(uow=container.uow(), actor=again.principal, user_id=me.user.id,
                          role=Role.reviewer)  # fmt: skip


def test_a_server_commits_each_login_through_its_group_commit_writer(container):
    """In a server the login's record is a work function its writer commits with whatever
    else is waiting, so a login (a flood of them, on SQLite) never waits for or holds the
    write lock beside report intake; failures, locks, the address limit and a success hold as
    in a transaction of the login's own."""
    from dataclasses import replace

    from takedown.services.errors import RateLimited
    from takedown.services.ratelimits import RateLimit

    def groups() -> int:
        return container.writer.groups

    add_staff(container, "ana", Role.admin, token=False)
    served = replace(
        container.login_policy,
        max_failures=2,
        verify=accounts.verify_password,
        address_limit=RateLimit("login-address", 3, 900),
    )
    assert served.commit == container.commit_work
    container.writer.start()
    try:
        before = groups()
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123", client="192.0.2.1", policy=served)
        assert groups() == before + 1  # the failure was committed by the writer
        with container.uow(readonly=True) as uow:
            assert uow.users.get_by_name("ana").failed_logins == 1
        assert actions(container)[-1] == "auth.login_failed"
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123", client="192.0.2.1", policy=served)
        with pytest.raises(NotAuthenticated):  # locked for that address now
            login(container, "ana", client="192.0.2.1", policy=served)
        ok = login(container, "ana", client="198.51.100.1", policy=served)
        assert groups() == before + 4
        auth = accounts.authenticate(uow=container.uow(readonly=True), secret=ok.session_secret)
        assert auth.principal.name == "ana"

        # The address reaches its limit while this login's password is being checked: the
        # write finds it and refuses, with the time to wait, committing nothing.
        def others_fail_meanwhile(stored_hash, password):
            with pytest.raises(NotAuthenticated):
                login(container, "nobody", "x-guess-12345", client="192.0.2.9", policy=served)
            with pytest.raises(NotAuthenticated):
                login(container, "nobody", "x-guess-12345", client="192.0.2.9", policy=served)
            return False

        with pytest.raises(NotAuthenticated):
            login(container, "nobody", "x-guess-12345", client="192.0.2.9", policy=served)
        before = actions(container)
        with pytest.raises(RateLimited) as limited:
            login(container, "ana", "a-guess-123456", client="192.0.2.9",
                  policy=replace(served, verify=others_fail_meanwhile))  # fmt: skip
        assert limited.value.retry_after > 0
        assert len(actions(container)) == len(before) + 2  # the two others' failures only
    finally:
        container.writer.stop()
