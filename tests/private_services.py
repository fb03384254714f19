"""A PostgreSQL server and a RabbitMQ node of a test's own, on ports of their own, so the test
can restart them under load without touching the servers other tests share. Both are this
machine's real servers (Debian's packages), started from a scratch folder; a test that cannot
start them (not root, the packages missing) is skipped with the reason."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port


def _run(*args: str, user: str | None = None, env: dict[str, str] | None = None) -> None:
    command = ["runuser", "-u", user, "--", *args] if user else list(args)
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd="/tmp", timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}\n{done.stderr}")


def _scratch(owner: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="takedown-private-", dir="/tmp"))
    folder.chmod(0o755)
    shutil.chown(folder, owner, owner)
    return folder


def _needs(user: str, *programs: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("starting a private server needs root (to run it as its own user)")
    for program in programs:
        if not (shutil.which(program) or Path(program).exists()):
            pytest.skip(f"{program} is not installed")
    try:
        pwd.getpwnam(user)
    except KeyError:
        pytest.skip(f"no {user} user on this machine")


@dataclass
class PrivatePostgres:
    folder: Path
    port: int
    bin: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        _run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args, user="postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL's server programs (initdb) are not installed")
    _needs("postgres")
    folder = _scratch("postgres")
    server = PrivatePostgres(folder, free_port(), Path(found[-1]).parent)
    try:
        _run(str(server.bin / "initdb"), "-D", str(folder / "data"), "-A", "trust",
             "-U", "postgres", user="postgres")  # fmt: skip
        server.start()
        yield server
    finally:
        with suppress(RuntimeError):
            server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class PrivateRabbit:
    folder: Path
    port: int
    node: str

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(
                self.port + 20000 if self.port < 45000 else self.port - 20000
            ),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "plugins"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
        }

    def start(self) -> None:
        _run("rabbitmq-server", "-detached", env=self._env())
        _run("rabbitmqctl", "-n", self.node, "wait", str(self.folder / "pid"), env=self._env())
        _run("rabbitmqctl", "-n", self.node, "await_startup", env=self._env())

    def stop(self) -> None:
        _run("rabbitmqctl", "-n", self.node, "stop", str(self.folder / "pid"), env=self._env())


@contextmanager
def private_rabbitmq() -> Iterator[PrivateRabbit]:
    _needs("rabbitmq", "rabbitmq-server", "rabbitmqctl")
    folder = _scratch("rabbitmq")
    port = free_port()
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n"
    )
    (folder / "plugins").write_text("[].\n")
    for path in folder.iterdir():
        shutil.chown(path, "rabbitmq", "rabbitmq")
    rabbit = PrivateRabbit(folder, port, f"td{port}@localhost")
    try:
        rabbit.start()
        yield rabbit
    finally:
        with suppress(RuntimeError):
            rabbit.stop()
        shutil.rmtree(folder, ignore_errors=True)
