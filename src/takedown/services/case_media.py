"""The PDQ hashes of case items, in memory, so that a report about media finds the open case
about near-identical media without reading every open item.

Reports about media whose PDQ hash is within ``CASE_PDQ_THRESHOLD`` bits of an open case's
item join that case. Reading every open item with a hash and comparing it in Python cost a
few milliseconds a report at a thousand open items and grew with them (items stay open until
their case is decided). Instead each process keeps the items' hashes in a ``PdqIndex`` (exact
radius search) and, at each lookup, inside the report's own transaction:

1. reads the items added since it last looked (``id`` above the highest it holds; on
   PostgreSQL, once a second, also the last ``WINDOW`` ids again, since another process's
   transaction may commit after one with a higher id);
2. searches the index (and the few items added since the index's last batch);
3. checks the candidates against the database: only open items count, with their stored case
   and hash (an item found closed is dropped from the index).

Items this transaction added are seen in step 1 like any other; if the transaction rolls
back, they are forgotten (``UnitOfWork.on_rollback``), so an id SQLite hands out
again is read afresh. The answer is the same as comparing against every open item: the
nearest, then the oldest case (``tests/integration/test_case_media.py``).
"""

from __future__ import annotations

import logging
import threading
import time

from takedown.matching.pdq_index import PdqIndex
from takedown.store.db import Database
from takedown.store.uow import UnitOfWork, reading

log = logging.getLogger("takedown.cases")

WINDOW = 256
"""PostgreSQL: ids read again once a second, for commits that landed out of id order."""
BATCH = 256
"""New items are searched in a plain list until this many, then added to the index."""
PAGE = 10_000
"""Items read a statement at a time."""


class CaseMediaIndex:
    """One per process (``Container.case_media``); safe to share between threads."""

    def __init__(self, *, window_seconds: float = 1.0) -> None:
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self._index = PdqIndex()
        self._recent: list[tuple[int, int, int]] = []  # (item id, case id, hash) not yet indexed
        self._held: set[int] = set()
        self._top = 0  # the highest item id held
        self._loaded = False
        self._window_at = 0.0

    def warm(self, db: Database) -> None:
        """Read the open items now (a server does this at start, on a thread), so that the
        first report about media does not read them all on its way."""
        try:
            with reading(db) as uow, self._lock:
                self._catch_up(uow)
        except Exception:
            log.exception("could not load the case items' hashes; the first lookup will")

    def nearest_open_case(self, uow: UnitOfWork, pdq: str, threshold: int) -> int | None:
        """The open case with an item nearest to ``pdq`` within ``threshold`` bits (the
        oldest case among equals), or None."""
        query = int(pdq, 16)
        with self._lock:
            self._catch_up(uow)
            found = {item_id for item_id, _ in self._index.search(pdq, threshold)}
            found.update(
                item_id
                for item_id, _, value in self._recent
                if (value ^ query).bit_count() <= threshold
            )
        if not found:
            return None
        best: tuple[int, int] | None = None
        live = uow.cases.open_items_by_id(sorted(found))
        for _, case_id, value in live:
            distance = (int(value, 16) ^ query).bit_count()
            if distance <= threshold and (best is None or (distance, case_id) < best):
                best = (distance, case_id)
        closed = found - {item_id for item_id, _, _ in live}
        if closed:
            with self._lock:
                for item_id in closed:
                    self._index.set_active(item_id, False)
                self._recent = [r for r in self._recent if r[0] not in closed]
        return best[1] if best else None

    def _catch_up(self, uow: UnitOfWork) -> None:
        open_only = not self._loaded
        after = self._top
        now = time.monotonic()
        late = not uow.cases.items_commit_in_id_order
        if self._loaded and late and now - self._window_at >= self._window_seconds:
            after = max(0, after - WINDOW)
            self._window_at = now
        rows: list[tuple[int, int, str]] = []
        while True:
            page = uow.cases.pdq_items_after(after, open_only=open_only, limit=PAGE)
            rows += page
            if len(page) < PAGE:
                break
            after = page[-1][0]
        self._loaded = True
        added = [row for row in rows if row[0] not in self._held]
        if not added:
            return
        for item_id, case_id, pdq in added:
            self._held.add(item_id)
            self._top = max(self._top, item_id)
            self._recent.append((item_id, case_id, int(pdq, 16)))
        ids = [item_id for item_id, _, _ in added]
        uow.on_rollback(lambda: self._forget(ids))
        if len(self._recent) >= BATCH:
            recent, self._recent = self._recent, []
            self._index.add(
                [item_id for item_id, _, _ in recent], [f"{value:064x}" for _, _, value in recent]
            )

    def _forget(self, ids: list[int]) -> None:
        """The transaction that read these items rolled back: they may never have been."""
        gone = set(ids)
        with self._lock:
            self._recent = [r for r in self._recent if r[0] not in gone]
            for item_id in gone:
                self._index.set_active(item_id, False)
            self._held -= gone
            self._top = max(self._held, default=0)
