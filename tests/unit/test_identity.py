import pytest
from hypothesis import given
from hypothesis import strategies as st

from takedown.identity import (
    ROLE_PERMISSIONS,
    SCOPE_PERMISSIONS,
    Forbidden,
    NotAuthenticated,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    Scope,
    SecretKind,
    WeakPassword,
    check_password_policy,
    hash_password,
    issue_secret,
    parse_secret,
    require,
    verify_password,
)

EVERY_STAFF_MEMBER = {Permission.console_view, Permission.account_self, Permission.reports_submit}


def test_every_permission_is_lacked_by_some_scope_and_all_but_base_ones_by_some_role():
    # The route-walking authorization test needs a wrong credential for every permission; a
    # permission every principal held would make a route effectively public. Only the base
    # staff permissions are held by every role (API keys lack them).
    for permission in Permission:
        assert any(permission not in perms for perms in SCOPE_PERMISSIONS.values()), permission
        lacked_by_a_role = any(permission not in perms for perms in ROLE_PERMISSIONS.values())
        assert lacked_by_a_role == (permission not in EVERY_STAFF_MEMBER), permission


def test_every_role_and_scope_has_a_policy_row():
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert set(SCOPE_PERMISSIONS) == set(Scope)


def test_api_key_principal_gets_the_union_of_its_scopes():
    p = Principal(
        kind=PrincipalKind.api_key,
        subject_id=1,
        name="k",
        scopes=frozenset({Scope.scan, Scope.metrics}),
    )
    assert p.can(Permission.scan) and p.can(Permission.metrics_read)
    assert not p.can(Permission.keys_manage)


def test_staff_principal_ignores_scopes_and_uses_role():
    p = Principal(
        kind=PrincipalKind.staff_token,
        subject_id=1,
        name="r",
        role=Role.reviewer,
        scopes=frozenset({Scope.metrics}),
    )
    assert not p.can(Permission.metrics_read)
    assert p.can(Permission.console_view)


def test_require_raises_not_authenticated_without_principal_and_forbidden_without_permission():
    with pytest.raises(NotAuthenticated):
        require(None, Permission.console_view)
    reviewer = Principal(
        kind=PrincipalKind.staff_session, subject_id=1, name="r", role=Role.reviewer
    )
    with pytest.raises(Forbidden) as info:
        require(reviewer, Permission.users_manage)
    assert info.value.permission is Permission.users_manage
    assert require(reviewer, Permission.console_view) is reviewer


def test_issued_secret_parses_back_to_its_kind_and_id():
    for kind in SecretKind:
        issued = issue_secret(kind)
        assert parse_secret(issued.value) == (kind, issued.key_id)
        assert issued.digest != issued.value and len(issued.digest) == 64


@given(st.text(max_size=200))
def test_parse_secret_never_raises(value):
    result = parse_secret(value)
    assert result is None or isinstance(result[0], SecretKind)


def test_password_hash_round_trip_and_policy():
    h = hash_password("correct horse battery")
    assert verify_password(h, "correct horse battery")
    assert not verify_password(h, "wrong horse battery")
    assert not verify_password("not-a-hash", "anything")
    with pytest.raises(WeakPassword):
        check_password_policy("short")
    with pytest.raises(WeakPassword):
        check_password_policy("x" * 2000)
