"""Who may do what: roles, API-key scopes, permissions, principals, secrets.

Pure domain: no HTTP, SQL or Celery. Adapters turn a credential into a ``Principal``;
services call ``require`` before they act, so the API, the console, the CLI and the workers
enforce the same rules.

Exceptions::

    IdentityError
    ├── NotAuthenticated   no usable credential (HTTP 401)
    ├── Forbidden          authenticated but lacking a permission (HTTP 403)
    └── WeakPassword       a new password does not meet the policy (HTTP 422)
"""

from takedown.identity.accounts import (
    AccountLockedOut,
    ApiKey,
    CredentialIssued,
    CredentialRevoked,
    PermissionChanged,
    StaffSession,
    User,
    UserCreated,
)
from takedown.identity.credentials import (
    IssuedSecret,
    SecretKind,
    WeakPassword,
    check_password_policy,
    digests_match,
    hash_password,
    hash_secret,
    issue_secret,
    parse_secret,
    password_needs_rehash,
    verify_password,
)
from takedown.identity.model import (
    CHILD_SAFETY_ROLES,
    ROLE_PERMISSIONS,
    SCOPE_PERMISSIONS,
    SENIOR_ROLES,
    Forbidden,
    IdentityError,
    NotAuthenticated,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    Scope,
    require,
)
from takedown.identity.signatures import (
    SIGNATURE_HEADER,
    sign,
    signature_valid,
    signed_payload,
)

__all__ = [
    "CHILD_SAFETY_ROLES",
    "ROLE_PERMISSIONS",
    "SCOPE_PERMISSIONS",
    "SENIOR_ROLES",
    "SIGNATURE_HEADER",
    "AccountLockedOut",
    "ApiKey",
    "CredentialIssued",
    "CredentialRevoked",
    "Forbidden",
    "IdentityError",
    "IssuedSecret",
    "NotAuthenticated",
    "Permission",
    "PermissionChanged",
    "Principal",
    "PrincipalKind",
    "Role",
    "Scope",
    "SecretKind",
    "StaffSession",
    "User",
    "UserCreated",
    "WeakPassword",
    "check_password_policy",
    "digests_match",
    "hash_password",
    "hash_secret",
    "issue_secret",
    "parse_secret",
    "password_needs_rehash",
    "require",
    "sign",
    "signature_valid",
    "signed_payload",
    "verify_password",
]
