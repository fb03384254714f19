"""Use cases: one function each, keyword-only, one transaction each.

Adapters (``api``, ``web``, ``cli``, ``jobs``) call these; they never touch the store directly.
"""
