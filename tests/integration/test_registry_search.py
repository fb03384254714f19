"""The registry's near-copy search: on PostgreSQL the database's chunk tables (migration 0017,
kept in step by triggers), on SQLite the process's own index. Both must find exactly what a
comparison with every registered hash finds, at any threshold a bank allows."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from takedown.matching.pdq_index import chunk_keys
from takedown.services.enforcement import (
    DatabaseRegistrySearch,
    RegistryMediaIndex,
    RegistrySearch,
)
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate


def _flip(value: str, bits: list[int]) -> str:
    number = int(value, 16)
    for bit in bits:
        number ^= 1 << bit
    return f"{number:064x}"


def _register(
    db: Database, items: dict[str, str], frames: dict[str, list[str]] | None = None
) -> None:
    with SqlAlchemyUnitOfWork(db) as uow:
        for content_id, pdq in items.items():
            uow.content.upsert(
                content_id=content_id,
                account_id="uploader",
                parent_content_id=None,
                hashes={"pdq": pdq},
                scanned=True,
            )
        for content_id, pdqs in (frames or {}).items():
            uow.content.upsert(
                content_id=content_id,
                account_id="uploader",
                parent_content_id=None,
                hashes={"media_kind": "video"},
                scanned=True,
            )
            uow.registry.set_frames(content_id, pdqs)
        uow.commit()


def _searches(db: Database) -> list[RegistrySearch]:
    return [RegistryMediaIndex()] + ([] if db.is_sqlite else [DatabaseRegistrySearch()])


@pytest.fixture
def migrated(db: Database) -> Database:
    migrate.upgrade(db)
    return db


def test_each_search_finds_exactly_what_comparing_every_hash_finds(migrated: Database) -> None:
    rng = random.Random(30)
    queries = [f"{rng.getrandbits(256):064x}" for _ in range(4)]
    items: dict[str, str] = {}
    # Copies of each query at every distance from 0 to 40, and unrelated items.
    for q, query in enumerate(queries):
        for distance in range(41):
            items[f"q{q}-d{distance}"] = _flip(query, rng.sample(range(256), distance))
    for i in range(300):
        items[f"other-{i}"] = f"{rng.getrandbits(256):064x}"
    _register(migrated, items)
    assert migrated.is_sqlite == (
        RegistrySearch.for_database(migrated).__class__ is RegistryMediaIndex
    )
    for search in _searches(migrated):
        for threshold in (0, 10, 31, 40):  # 40: past the chunks' guarantee, a full comparison
            with SqlAlchemyUnitOfWork(migrated, readonly=True) as uow:
                found = search.matching(uow, queries[:2], threshold)
            expected = {
                c
                for c, pdq in items.items()
                if any((int(pdq, 16) ^ int(q, 16)).bit_count() <= threshold for q in queries[:2])
            }
            assert sorted(found) == sorted(expected), (type(search).__name__, threshold)
            assert any(c.startswith("q0-") for c in expected)


def test_videos_are_found_by_their_frames_in_both(migrated: Database) -> None:
    rng = random.Random(7)
    original = [f"{rng.getrandbits(256):064x}" for _ in range(6)]
    reencoded = [_flip(f, rng.sample(range(256), 12)) for f in original]
    unrelated = [f"{rng.getrandbits(256):064x}" for _ in range(6)]
    _register(migrated, {}, {"reencoded": reencoded, "unrelated": unrelated})
    for search in _searches(migrated):
        with SqlAlchemyUnitOfWork(migrated, readonly=True) as uow:
            assert list(search.videos_near(uow, original, 31)) == ["reencoded"]
            assert search.matching_videos(uow, original, 31) == ["reencoded"]
            assert search.matching_videos(uow, original[:1], 31) == ["reencoded"]  # a clip
            assert search.videos_near(uow, original, 5) == {}


@pytest.mark.postgres
def test_the_chunk_tables_follow_every_write_of_a_hash(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        migrate.upgrade(db)
        rng = random.Random(3)
        first, second = (f"{rng.getrandbits(256):064x}" for _ in range(2))
        _register(db, {"item": first}, {"video": [first, second]})

        def chunks(table: str) -> list[tuple[int, ...]]:
            with db.engine.connect() as conn:
                rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            return [tuple(r[1:]) for r in rows]

        # The database cuts a hash exactly as the index code does.
        assert chunks("content_pdq_chunks") == [tuple(chunk_keys(first))]
        assert chunks("content_frame_chunks") == [
            tuple(chunk_keys(first)),
            tuple(chunk_keys(second)),
        ]
        # A rescan with a new hash moves the item; a report that names no hash leaves it.
        _register(db, {"item": second})
        with SqlAlchemyUnitOfWork(db) as uow:
            uow.content.ensure("item")
            uow.commit()
        assert chunks("content_pdq_chunks") == [tuple(chunk_keys(second))]
        # A video rescanned with other frames is searched by those only.
        _register(db, {}, {"video": [second]})
        assert chunks("content_frame_chunks") == [tuple(chunk_keys(second))]
        search = DatabaseRegistrySearch()
        with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
            assert search.matching(uow, [first], 31) == []
            assert search.matching(uow, [second], 0) == ["item"]
            assert list(search.videos_near(uow, [first], 31)) == []
        # The decision's own transaction sees what it registered before committing.
        third = f"{rng.getrandbits(256):064x}"
        with SqlAlchemyUnitOfWork(db) as uow:
            uow.content.upsert(
                content_id="new", account_id="u", parent_content_id=None,
                hashes={"pdq": third}, scanned=True,
            )  # fmt: skip
            assert search.matching(uow, [_flip(third, [1, 2, 3])], 31) == ["new"]
            uow.rollback()
        assert chunks("content_pdq_chunks") == [tuple(chunk_keys(second))]
    finally:
        db.dispose()
