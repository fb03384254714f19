"""Accounts, login lock-out and credentials, through the services, on both databases."""

from datetime import timedelta

import pytest

from takedown.identity import NotAuthenticated, PrincipalKind, Role, Scope, WeakPassword
from takedown.services import accounts, audit, keys
from takedown.services.accounts import LoginPolicy
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.store.types import utcnow
from tests.conftest import OPERATOR, PASSWORD, add_key, add_staff

POLICY = LoginPolicy(max_failures=3, lockout=timedelta(minutes=15))


def login(container, name, password=PASSWORD):
    return accounts.login(uow=container.uow(), name=name, password=password, policy=POLICY)


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


def test_repeated_failures_lock_the_account_even_for_the_right_password(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    for _ in range(POLICY.max_failures):
        with pytest.raises(NotAuthenticated):
            login(container, "ana", "wrong-password-123")
    with pytest.raises(NotAuthenticated):
        login(container, "ana")
    with container.uow(readonly=True) as uow:
        user = uow.users.get_by_name("ana")
    assert user.is_locked(utcnow())
    assert user.locked_until - utcnow() > timedelta(minutes=14)
    assert "auth.locked_out" in actions(container)
    with container.uow(readonly=True) as uow:
        assert "identity.account_locked_out" in {m for m in _outbox_types(uow)}
    accounts.unlock_user(uow=container.uow(), actor=OPERATOR, name="ana")
    assert login(container, "ana").user.name == "ana"


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
