"""The audit log's hash chain: how an entry is hashed and how a chain is checked.

Pure: entries come in as ``AuditRecord`` values; the store persists them and the service
``takedown.services.audit`` is the one function everything writes through.
"""

from takedown.audit.chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainProblem,
    entry_hash,
    verify_chain,
)

__all__ = ["GENESIS_HASH", "AuditRecord", "ChainProblem", "entry_hash", "verify_chain"]
