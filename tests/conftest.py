"""Shared fixtures: one parametrized database fixture runs store tests on SQLite and on the
machine's PostgreSQL; a live server speaks real HTTP on a loopback port.

PostgreSQL: ``TAKEDOWN_TEST_POSTGRES_URL`` (default: user postgres on localhost:5432) names a
maintenance database; each test gets a fresh database cloned from a migrated template made
once per run, and every database made here is dropped at the end. Where no server answers,
the PostgreSQL runs are skipped with the reason, unless ``TAKEDOWN_TEST_REQUIRE_POSTGRES=1``
(CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from takedown.bootstrap import default_registry
from takedown.clock import MovableClock
from takedown.config import Settings
from takedown.identity import Principal, Role, Scope
from takedown.server import create_app
from takedown.server.container import Container
from takedown.server.protocol import timed
from takedown.services import accounts, keys
from takedown.store import Database, migrate
from tests.waiting import wait_until

PG_ADMIN_URL = os.environ.get(
    "TAKEDOWN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/postgres"
)
REQUIRE_PG = os.environ.get("TAKEDOWN_TEST_REQUIRE_POSTGRES") == "1"
OPERATOR = Principal.system("tests")
PASSWORD = "a-long-test-password"


def _pg_problem() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} does not answer: {exc}"
    return None


def _pg_admin_exec(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "takedown.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    problem = _pg_problem()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"TAKEDOWN_TEST_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    name = f"takedown_tpl_{uuid.uuid4().hex[:10]}"
    _pg_admin_exec(f'CREATE DATABASE "{name}"')
    db = Database(_pg_url(name))
    migrate.upgrade(db)
    db.dispose()
    yield name
    _pg_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that needs ``database_url`` runs on each database; one marked
    ``sqlite_only`` (what it tests does not depend on the database) on SQLite alone."""
    if "database_url" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("database_url", ["sqlite"] if only else DATABASES, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL database (a test
    marked ``sqlite_only``: the SQLite file alone)."""
    if request.param == "sqlite":
        path = tmp_path / "takedown.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"takedown_t_{uuid.uuid4().hex[:12]}"
    _pg_admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(pg_template: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL database (skipped where none answers)."""
    name = f"takedown_t_{uuid.uuid4().hex[:12]}"
    _pg_admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BROKER_URL = os.environ.get("TAKEDOWN_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
REQUIRE_BROKER = os.environ.get("TAKEDOWN_TEST_REQUIRE_BROKER") == "1"


@pytest.fixture(scope="session")
def broker_url() -> str:
    """RabbitMQ (``TAKEDOWN_TEST_BROKER_URL``), skipped with the reason where it does not
    answer (failed where ``TAKEDOWN_TEST_REQUIRE_BROKER=1``, as in CI)."""
    problem = broker_problem(BROKER_URL)
    if problem:
        if REQUIRE_BROKER:
            pytest.fail(f"TAKEDOWN_TEST_REQUIRE_BROKER=1 but {problem}")
        pytest.skip(problem)
    return BROKER_URL


REDIS_BROKER_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_broker_url() -> str:
    """Redis as the broker (``TAKEDOWN_TEST_REDIS_URL``; database 15), skipped with the
    reason where it does not answer."""
    problem = broker_problem(REDIS_BROKER_URL)
    if problem:
        pytest.skip(problem)
    return REDIS_BROKER_URL


def broker_problem(url: str) -> str | None:
    """Why the broker at ``url`` cannot be used (its password left out), or None."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"the broker at {make_url_safe(url)} does not answer: {exc}"
    return None


def make_url_safe(url: str) -> str:
    """``url`` without its password, for a skip reason."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


@pytest.fixture
def queue_prefix(broker_url: str) -> Iterator[str]:
    """Queue names of this test's own (tests run side by side on one broker); its queues
    are deleted afterwards."""

    from tests.cluster_support import delete_queues

    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield prefix
    delete_queues(broker_url, prefix)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "worker_poll_seconds": 0.2,
        "log_format": "text",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def container(settings: Settings, db: Database) -> Container:
    return Container(settings=settings, db=db, registry=default_registry(), clock=MovableClock())


def add_staff(container: Container, name: str, role: Role, *, token: bool = True) -> str | None:
    """Create a staff account with ``PASSWORD``; return a personal token when asked."""
    accounts.create_user(
        uow=container.uow(), actor=OPERATOR, name=name, role=role, password=PASSWORD
    )
    if not token:
        return None
    return accounts.create_personal_token(
        uow=container.uow(), actor=OPERATOR, user_name=name, label="tests"
    ).secret


def add_key(container: Container, name: str, *scopes: Scope) -> tuple[int, str]:
    issued = keys.create_api_key(uow=container.uow(), actor=OPERATOR, name=name, scopes=scopes)
    return issued.key.id, issued.secret


def console_login(client: httpx.Client, name: str, password: str = PASSWORD) -> None:
    """Log ``client`` in to the console as ``name``, through the login form and its CSRF
    cookie, as a browser does."""
    import re

    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    answer = client.post(
        "/login", data={"name": name, "password": password, "csrf_token": found.group(1)}
    )
    assert answer.status_code == 303, answer.text


@dataclass
class LiveServer:
    """The real app behind uvicorn on a loopback port, in this process."""

    container: Container
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A port free now whose next one is free too (``takedown demo`` takes both)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two free ports side by side")


def start_live_server(container: Container, *, app=None, start_worker: bool = True) -> LiveServer:
    app = app or create_app(container, start_worker=start_worker)
    port = free_port()
    container.listen_url = f"http://127.0.0.1:{port}"
    settings = container.settings
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # The connection's read limits, as ``takedown serve`` has them.
        http=timed(
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
        ),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(
        lambda: server.started or not thread.is_alive(), timeout=15, what="the live server's start"
    )
    if not server.started:
        raise RuntimeError("live server did not start")
    return LiveServer(
        container=container, url=f"http://127.0.0.1:{port}", server=server, thread=thread
    )


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    live = start_live_server(container)
    yield live
    live.server.should_exit = True
    live.thread.join(15)
