"""Evidence: what takedown preserves of a case, encrypted at rest (``vault``). Pure domain:
no HTTP or SQL; the store keeps sealed items, ``services.evidence`` decides who opens them.

Exceptions::

    VaultError
     ├── BadKey      a master key that is not 32 bytes (64 hex digits)
     └── WrongKey    the key that wrapped an item is not given, or the item was altered
"""

from takedown.evidence.vault import (
    BadKey,
    MasterKey,
    Sealed,
    VaultError,
    WrongKey,
    rewrap,
    seal,
    unseal,
)

__all__ = [
    "BadKey",
    "MasterKey",
    "Sealed",
    "VaultError",
    "WrongKey",
    "rewrap",
    "seal",
    "unseal",
]
