"""``takedown``: run the server and administer an installation from the shell.

Secrets (passwords, keys, tokens) are printed alone on standard output, so scripts can
capture them (``KEY=$(takedown keys create …)``); everything else goes to standard error.
The CLI acts as the operator on the host (the ``system`` principal) and its actions are in
the audit log under ``cli:<user>``.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url

from takedown.cli.banks import register as register_bank_commands
from takedown.cli.exchanges import register as register_exchange_commands
from takedown.cli.media import hash_command, progress_bar
from takedown.cli.transparency import register_statement_commands
from takedown.config import ConfigError, Settings
from takedown.identity import IdentityError, Principal, Role, Scope
from takedown.server.container import Container, build_container
from takedown.services import accounts, audit, keys
from takedown.services.errors import ServiceError
from takedown.store import migrate

app = typer.Typer(
    help="takedown: child-safety takedowns for online platforms.",
    no_args_is_help=True,
    rich_markup_mode="markdown",  # a docstring's lines are one paragraph, reflowed to the screen
)
users_app = typer.Typer(rich_markup_mode="markdown", help="Staff accounts.", no_args_is_help=True)
keys_app = typer.Typer(
    rich_markup_mode="markdown",
    help="API keys for platforms, flaggers, agencies, scrapers.",
    no_args_is_help=True,
)
db_app = typer.Typer(rich_markup_mode="markdown", help="The database schema.", no_args_is_help=True)
audit_app = typer.Typer(rich_markup_mode="markdown", help="The audit log.", no_args_is_help=True)
EXPORT_BAR_FROM = 10_000  # entries; fewer are written before a bar would be worth drawing
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.command("hash")(hash_command)

err = Console(stderr=True, soft_wrap=True)
P = ParamSpec("P")
T = TypeVar("T")


def _operator() -> Principal:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Principal.system(f"cli:{who}")


def _container(*, check_schema: bool = True) -> Container:
    """The composition root for a command. Commands that read or write data first check the
    schema, so a fresh data folder gets a plain instruction instead of a SQL traceback; they
    never create a database (only ``db upgrade``, ``serve`` and ``demo`` do, with
    ``check_schema=False``)."""
    try:
        settings = _settings_only()
        if check_schema:
            missing = _missing_sqlite_file(settings)
            if missing is not None:
                raise _fail(
                    f"no database at {missing} (TAKEDOWN_DATA_DIR is {settings.data_dir}, "
                    f"relative to {Path.cwd()}; set it, or TAKEDOWN_DATABASE_URL, to the "
                    "installation's): run `takedown db upgrade` to create one there"
                )
        container = build_container(settings)
    except ConfigError as exc:
        raise _fail(f"settings: {exc}") from exc
    except ValidationError as exc:
        raise _fail(f"settings: {_problems(exc)}") from exc
    if check_schema and not migrate.is_current(container.db):
        current = migrate.current_revision(container.db)
        where = "is not set up" if current is None else f"is at {current}, behind this version"
        raise _fail(
            f"the database ({container.db.url.render_as_string()}) {where}: "
            "run `takedown db upgrade` (`takedown serve` does it on start)"
        )
    return container


def _settings_only() -> Settings:
    """The settings, checked (production's rules too), or a clear message and exit 1."""
    try:
        settings = Settings()
        settings.check_production()
    except ConfigError as exc:
        raise _fail(f"settings: {exc}") from exc
    except ValidationError as exc:
        raise _fail(f"settings: {_problems(exc)}") from exc
    return settings


def _missing_sqlite_file(settings: Settings) -> Path | None:
    """The embedded database's file when it does not exist (opening it would create it)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


def _problems(exc: ValidationError) -> str:
    """What is wrong with the settings, without the values given: pydantic's own message
    repeats every input, secrets included."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors(include_input=False, include_url=False)
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call a service; turn its errors into a message and exit status 1."""
    try:
        return fn(*args, **kwargs)
    except (ServiceError, IdentityError) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Upgrade the schema, then serve the API, the console and the worker."""
    import uvicorn

    from takedown.server import create_app
    from takedown.server.logs import configure_logging
    from takedown.server.protocol import TimedHttpProtocol, timed

    container = _container(check_schema=False)
    settings = container.settings
    configure_logging(settings.log_level, settings.log_format)
    migrate.upgrade(container.db)
    base = f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"  # noqa: S104
    err.print(f"takedown is starting on {base}  (console {base}/console, API docs {base}/docs)")
    if not settings.public_url:
        # Development only (production refuses to start without it): status links point at
        # the address we listen on, in this process and in every server process it starts.
        container.listen_url = base
        os.environ["TAKEDOWN_PUBLIC_URL"] = base
    target: Any = create_app(container)
    processes = settings.web_processes
    if processes > 1:
        # Each process builds the app itself; uvicorn supervises and restarts them.
        container.db.dispose()
        target = "takedown.server.asgi:app_factory"
    else:
        from takedown.server.process import tune_server_process

        tune_server_process(settings)
    limits = {
        "header_timeout": settings.http_header_timeout_seconds,
        "body_timeout": settings.http_body_timeout_seconds,
    }
    uvicorn.run(
        target,
        # Several processes: uvicorn sends each the class by name, and each sets its limits
        # from its settings (``server.asgi``).
        http=TimedHttpProtocol if processes > 1 else timed(**limits),
        factory=processes > 1,
        workers=processes if processes > 1 else None,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # Only from the proxies named: anyone else could set X-Forwarded-For to any address.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
    )


@app.command()
def worker(
    queues: str = typer.Option(
        "",
        "--queues",
        "-Q",
        help="Distributed mode: the lanes to take, comma-separated (events, evidence, email, "
        "banks, delivery, filing, exchanges). Default: every lane this worker's settings "
        "can run.",
    ),
) -> None:
    """Run deferred work until stopped (SIGTERM or Ctrl-C). Embedded mode: the job runtime's
    lanes on threads of this process (the events it has handlers for, delivery to the
    platform and filing with NCMEC where they are set), beside `takedown serve` with
    TAKEDOWN_WORKER=false. Distributed mode (TAKEDOWN_BROKER_URL): a Celery worker on the
    lanes' queues, with TAKEDOWN_WORKER_THREADS tasks at once."""
    import signal
    import threading

    from takedown.server.logs import configure_logging

    container = _container()
    configure_logging(container.settings.log_level, container.settings.log_format)
    if container.settings.broker_url:
        _distributed_worker(container, queues)
        return
    if queues:
        raise _fail("--queues is for the distributed mode (TAKEDOWN_BROKER_URL)")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    running = container.runtime
    running.start()
    runs = ", ".join(sorted(container.registry.runs_here)) or "none"
    err.print(
        f"takedown worker is running (lanes: {', '.join(running)}; handlers here: {runs}); "
        "stop it with Ctrl-C"
    )
    try:
        while not stopping.wait(1.0):  # woken each second to let Ctrl-C through
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        container.db.dispose()


def _distributed_worker(container: Any, queues: str) -> None:
    from takedown import bootstrap
    from takedown.jobs import distributed

    s = container.settings
    lanes = container.table_lanes
    every = bootstrap.all_lanes(container.registry)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] or bootstrap.worker_queues(
        container.registry, lanes
    )
    unknown = sorted(set(chosen) - set(every))
    if unknown:
        raise _fail(f"no such lanes: {', '.join(unknown)} (the lanes: {', '.join(every)})")
    context = distributed.WorkerContext(
        db=container.db,
        registry=container.registry,
        policy=bootstrap.outbox_retry(s),
        lanes=lanes,
        clock=container.clock,
    )
    err.print(
        f"takedown worker (distributed) takes {', '.join(chosen)} with {s.worker_threads} "
        "threads; stop it with Ctrl-C or SIGTERM"
    )
    try:
        distributed.serve(
            distributed.make_app(s.broker_url, every, prefix=s.broker_prefix),
            context,
            queues=chosen,
            concurrency=s.worker_threads,
        )
    finally:
        container.db.dispose()


@app.command()
def relay() -> None:
    """Hand the outbox's due events to the broker (TAKEDOWN_BROKER_URL) until stopped, each
    marked relayed once the broker confirmed it; wake and schedule the lanes over tables of
    their own. Run one or more beside the web processes and the workers (`takedown worker`)."""
    import signal
    import threading

    from takedown import bootstrap
    from takedown.jobs import distributed
    from takedown.server.logs import configure_logging

    container = _container()
    s = container.settings
    configure_logging(s.log_level, s.log_format)
    if not s.broker_url:
        raise _fail("set TAKEDOWN_BROKER_URL: the relay hands events to a broker")
    publisher = distributed.CeleryPublisher(
        distributed.make_app(
            s.broker_url, bootstrap.all_lanes(container.registry), prefix=s.broker_prefix
        )
    )
    running = bootstrap.relay(s, container.db, container.registry, publisher, clock=container.clock)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    running.start()
    err.print(f"takedown relay is running ({running.relay_id}); stop it with Ctrl-C")
    try:
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        container.db.dispose()


evidence_app = typer.Typer(
    rich_markup_mode="markdown",
    help="The evidence vault: keys, rotation, purging.",
    no_args_is_help=True,
)
app.add_typer(evidence_app, name="evidence")


@evidence_app.command("new-key")
def evidence_new_key() -> None:
    """Print a new master key (64 hex digits) for TAKEDOWN_EVIDENCE_KEY. Keep it secret and
    kept: evidence sealed with it cannot be opened without it."""
    from takedown.evidence import MasterKey

    typer.echo(MasterKey.new().hex)


@evidence_app.command("rotate")
def evidence_rotate() -> None:
    """Re-wrap every item's data key with TAKEDOWN_EVIDENCE_KEY, reading the old ones from
    TAKEDOWN_EVIDENCE_OLD_KEYS (the media is not decrypted). Then drop the old keys."""
    from takedown.services import evidence

    container = _container()
    if container.vault is None:
        raise _fail("set TAKEDOWN_EVIDENCE_KEY to the new key and TAKEDOWN_EVIDENCE_OLD_KEYS")
    done = _run(evidence.rotate, uow=container.uow(), vault=container.vault)
    err.print(f"re-wrapped {done} evidence items with key {container.vault.key.fingerprint}")


@evidence_app.command("purge")
def evidence_purge() -> None:
    """Delete expired evidence not under a legal hold, and what cases closed with no violation
    hold, but never a report's that NCMEC holds within its year; each deletion is audited.
    Run it daily (cron, a systemd timer)."""
    from takedown.services import evidence

    container = _container()
    retention = container.vault.retention if container.vault is not None else timedelta(days=365)
    done = _run(evidence.purge, uow=container.uow(), now=container.clock.now(), retention=retention)
    err.print(f"purged {done} evidence items")


ncmec_app = typer.Typer(
    rich_markup_mode="markdown", help="NCMEC's CyberTipline Reporting API.", no_args_is_help=True
)
app.add_typer(ncmec_app, name="ncmec")


@ncmec_app.command("check")
def ncmec_check() -> None:
    """Check TAKEDOWN_NCMEC_URL and its credentials (NCMEC's /status), and whether the
    schema NCMEC serves (/xsd) reads and differs from the copy shipped with takedown."""
    from takedown.authorities import ChannelRefused, ChannelUnavailable, Schema, SchemaUnreadable
    from takedown.authorities import shipped as shipped_schema
    from takedown.services.ncmec import NcmecClient, NcmecSettings

    s = _settings_only()
    if not (s.ncmec_url and s.ncmec_username and s.ncmec_password):
        raise _fail("set TAKEDOWN_NCMEC_URL, TAKEDOWN_NCMEC_USERNAME and TAKEDOWN_NCMEC_PASSWORD")
    client = NcmecClient(
        NcmecSettings(
            url=s.ncmec_url,
            username=s.ncmec_username,
            password=s.ncmec_password,
            timeout_seconds=s.ncmec_timeout_seconds,
        )
    )
    try:
        client.status()
        served = client.schema()
    except (ChannelRefused, ChannelUnavailable) as exc:
        raise _fail(str(exc)) from None
    err.print(f"NCMEC at {s.ncmec_url} accepts these credentials")
    try:
        schema = Schema.parse(served or b"")
    except SchemaUnreadable as exc:
        raise _fail(f"its /xsd is unreadable: {exc}") from None
    same = schema.digest == shipped_schema().digest
    err.print(
        "its schema is the copy shipped with takedown"
        if same
        else f"its schema (sha256 {schema.digest[:16]}…) differs from the copy shipped with "
        "takedown: every report is checked against both"
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to this version's head."""
    container = _container(check_schema=False)
    migrate.upgrade(container.db)
    err.print(f"schema at {migrate.current_revision(container.db)}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema's revision and this version's head."""
    if _missing_sqlite_file(Settings()) is not None:
        current = None  # no database file: looking would create one
    else:
        current = migrate.current_revision(_container(check_schema=False).db)
    head = migrate.head_revision()
    typer.echo(json.dumps({"current": current, "head": head}))
    if current != head:
        raise typer.Exit(1)


def _password_from_env_or_prompt() -> str:
    password = os.environ.get("TAKEDOWN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise _fail("set TAKEDOWN_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise _fail("the passwords differ")
    return first


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[
        Role, typer.Option(metavar="ROLE", help="Role of the new account: " + ", ".join(Role) + ".")
    ],
    no_password: Annotated[bool, typer.Option("--no-password", help="Token-only account.")] = False,
    child_safety: Annotated[
        bool,
        typer.Option(
            "--child-safety",
            help="May see cases about minors (leads and compliance may by their role).",
        ),
    ] = False,
) -> None:
    """Create a staff account. Password from TAKEDOWN_PASSWORD, else a prompt."""
    password = None if no_password else _password_from_env_or_prompt()
    container = _container()
    user = _run(
        accounts.create_user,
        uow=container.uow(),
        actor=_operator(),
        name=name,
        role=role,
        password=password,
        child_safety=child_safety,
    )
    grant = ", child-safety" if user.child_safety else ""
    err.print(f"created {user.name} ({user.role}{grant}), id {user.id}")


@users_app.command("child-safety")
def users_child_safety(
    name: str,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="Take the grant away.")] = False,
) -> None:
    """Grant (or, with --withdraw, take away) the permission to see cases about minors."""
    container = _container()
    with container.uow(readonly=True) as uow:
        found = uow.users.get_by_name(name)
    if found is None:
        raise _fail(f"no user named {name!r}")
    user = _run(
        accounts.set_child_safety,
        uow=container.uow(),
        actor=_operator(),
        user_id=found.id,
        granted=not withdraw,
    )
    err.print(f"{user.name}: child-safety {'granted' if user.child_safety else 'withdrawn'}")


@users_app.command("list")
def users_list() -> None:
    """List staff accounts as JSON lines."""
    container = _container()
    for u in _run(accounts.list_users, uow=container.uow(readonly=True), actor=_operator()):
        typer.echo(
            json.dumps(
                {
                    "id": u.id,
                    "name": u.name,
                    "role": u.role.value,
                    "child_safety": u.child_safety,
                    "active": u.active,
                    "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                }
            )
        )


@users_app.command("token")
def users_token(
    name: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Issue a personal API token for NAME; prints the token alone on stdout."""
    container = _container()
    issued = _run(
        accounts.create_personal_token,
        uow=container.uow(),
        actor=_operator(),
        user_name=name,
        label=label,
    )
    typer.echo(issued.secret)


def _user_id(container: Container, name: str) -> int:
    with container.uow(readonly=True) as uow:
        user = uow.users.get_by_name(name)
    if user is None:
        raise _fail(f"no user named {name!r}")
    return user.id


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable an account and end its sessions and tokens (never the last active admin)."""
    container = _container()
    user_id = _user_id(container, name)
    _run(accounts.disable_user, uow=container.uow(), actor=_operator(), user_id=user_id)
    err.print(f"disabled {name}")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Enable a disabled account again (it logs in afresh)."""
    container = _container()
    user_id = _user_id(container, name)
    _run(accounts.enable_user, uow=container.uow(), actor=_operator(), user_id=user_id)
    err.print(f"enabled {name}")


@users_app.command("unlock")
def users_unlock(name: str) -> None:
    """Lift a lock-out after failed logins."""
    container = _container()
    _run(accounts.unlock_user, uow=container.uow(), actor=_operator(), name=name)
    err.print(f"unlocked {name}")


@users_app.command("passwd")
def users_passwd(name: str) -> None:
    """Set a new password (TAKEDOWN_PASSWORD, else a prompt); ends the user's sessions."""
    password = _password_from_env_or_prompt()
    container = _container()
    _run(
        accounts.set_password, uow=container.uow(), actor=_operator(), name=name, password=password
    )
    err.print(f"password set for {name}")


def _parse_scopes(values: list[str]) -> list[Scope]:
    scopes = []
    for part in (p.strip() for v in values for p in v.split(",")):
        if not part:
            continue
        try:
            scopes.append(Scope(part))
        except ValueError:
            raise _fail(f"unknown scope {part!r}; choose from {', '.join(Scope)}") from None
    return scopes


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="Scopes: " + ", ".join(Scope) + ". Repeat the option or separate with commas."
        ),
    ],
) -> None:
    """Issue an API key; prints the key alone on stdout."""
    scopes = _parse_scopes(scope)
    container = _container()
    issued = _run(
        keys.create_api_key, uow=container.uow(), actor=_operator(), name=name, scopes=scopes
    )
    typer.echo(issued.secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys as JSON lines (never their secrets)."""
    container = _container()
    for k in _run(keys.list_api_keys, uow=container.uow(readonly=True), actor=_operator()):
        typer.echo(
            json.dumps(
                {
                    "id": k.id,
                    "name": k.name,
                    "scopes": sorted(k.scopes),
                    "created_at": k.created_at.isoformat(),
                    "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                }
            )
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see keys list).")],
) -> None:
    """Revoke an API key or personal token."""
    container = _container()
    _run(accounts.revoke_credential, uow=container.uow(), actor=_operator(), key_pk=key_id)
    err.print(f"revoked key {key_id}")


@audit_app.command("head")
def audit_head() -> None:
    """Print the last entry as SEQ:HASH. Keep it somewhere else (a ticket, another system):
    `audit verify --anchor SEQ:HASH` then proves the log up to it was not rewritten."""
    container = _container()
    seq, digest = _run(audit.head, uow=container.uow(readonly=True), actor=_operator())
    typer.echo(f"{seq}:{digest}")


@audit_app.command("export")
def audit_export(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file; without it, to standard output."),
    ] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (`case.decided`).")] = None,
    target_type: Annotated[str | None, typer.Option(help="Only this kind of target.")] = None,
    target_id: Annotated[str | None, typer.Option(help="Only this target (with its kind).")] = None,
) -> None:
    """Export the audit log, newest first, as JSON lines with each entry's hashes, so the file
    verifies by itself. A progress bar is drawn on standard error for long runs in a terminal."""
    container = _container()
    actor = _operator()
    last, _ = _run(audit.head, uow=container.uow(readonly=True), actor=actor)
    records = audit.export(
        uow=lambda: container.uow(readonly=True),
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
    )
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    written = 0
    try:
        with progress_bar(last, "exporting", worth_from=EXPORT_BAR_FROM) as progress:
            task = progress.task_ids[0]
            for record in records:  # progress by sequence number: filters skip some
                stream.write(audit.json_line(record))
                written += 1
                progress.update(task, completed=last - record.seq + 1)
    finally:
        if out:
            stream.close()
    err.print(f"exported {written} entries" + (f" to {out}" if out else ""))


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(help="SEQ:HASH printed earlier by `audit head`; repeatable."),
    ] = None,
) -> None:
    """Check the audit log's hash chain; name every edited, inserted or deleted entry.

    Exit status 0 when intact, 1 when any problem is found.
    """
    anchors: dict[int, str] = {}
    for value in anchor or []:
        seq, _, digest = value.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise _fail(f"an anchor reads SEQ:HASH (64 hex digits), not {value!r}")
        anchors[int(seq)] = digest.lower()
    container = _container()
    result = _run(
        audit.verify, uow=container.uow(readonly=True), actor=_operator(), anchors=anchors
    )
    if result.ok:
        err.print(f"[green]audit log intact[/green]: {result.entries} entries")
        return
    for problem in result.problems:
        typer.echo(str(problem))
    err.print(
        f"[red]audit log broken[/red]: {len(result.problems)} problem(s) "
        f"in {result.entries} entries"
    )
    raise typer.Exit(1)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load data only.")] = False,
    platform: Annotated[
        bool,
        typer.Option(
            help="Start the demo platform beside takedown, on the next port, where the "
            "repository has it (in its examples folder)."
        ),
    ] = True,
) -> None:
    """Load sample data (development mode only), print what to open, and serve."""
    import secrets
    import subprocess
    import sys

    from takedown.demo import load_demo

    if os.environ.get("TAKEDOWN_MODE", "development").lower() != "development":
        raise _fail("demo data is for development mode only")
    if not os.environ.get("TAKEDOWN_SMTP_HOST"):
        # E-mails to reporters land in a mailbox the console shows (development only).
        os.environ.setdefault("TAKEDOWN_MAILBOX", "true")
    if not os.environ.get("TAKEDOWN_EVIDENCE_KEY"):
        # Demo mode only: a vault key kept beside the demo's data, made on the first run.
        key_file = Path(os.environ.get("TAKEDOWN_DATA_DIR", "./data")) / "demo" / "evidence.key"
        if not key_file.exists():
            from takedown.evidence import MasterKey

            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(MasterKey.new().hex + "\n")
            key_file.chmod(0o600)
        os.environ["TAKEDOWN_EVIDENCE_KEY"] = key_file.read_text().strip()
    platform_app = Path(__file__).resolve().parents[3] / "examples" / "demo_platform" / "app.py"
    platform_url = f"http://{host}:{port + 1}"
    start_platform = platform and not no_serve and platform_app.exists()
    if not no_serve:
        # Before anything is printed: an address printed while another process answers
        # there sends the user to that process.
        for wanted, what in ((port, "takedown"), (port + 1, "the demo platform")):
            if wanted == port + 1 and not start_platform:
                continue
            taken = _port_taken(host, wanted)
            if taken:
                raise _fail(
                    f"port {wanted} on {host}, for {what}, is taken ({taken}): stop what "
                    f"listens there (an earlier demo?) or choose another with --port"
                )
    if start_platform:
        # takedown fetches the platform's media and sends it actions, signed with one secret.
        os.environ.setdefault("TAKEDOWN_PLATFORM_WEBHOOK_SECRET", secrets.token_urlsafe(24))
        os.environ.setdefault("TAKEDOWN_PLATFORM_MEDIA_URL", f"{platform_url}/media/{{content_id}}")
        os.environ.setdefault("TAKEDOWN_PLATFORM_WEBHOOK_URL", f"{platform_url}/takedown/actions")
        os.environ.setdefault("TAKEDOWN_PLATFORM_RESOLVE_URL", f"{platform_url}/takedown/resolve")
    container = _container(check_schema=False)
    if container.settings.mode.value != "development":
        raise _fail("demo data is for development mode only")
    migrate.upgrade(container.db)
    base = f"http://{host}:{port}"
    credentials = load_demo(container, base)
    where = (
        f"SQLite in {container.settings.data_dir.resolve()}"
        if container.db.is_sqlite
        else "PostgreSQL"
    )
    err.print(f"\n[bold]takedown demo[/bold] ({where})\n")
    err.print(f"  report    {base}/report   (the public report form, no login)")
    err.print(f"  console   {base}/console")
    err.print(f"  API docs  {base}/docs")
    err.print(f"  health    {base}/healthz   readiness {base}/readyz")
    if container.settings.mailbox_dir is not None:
        err.print(
            f"  mailbox   {base}/console/mailbox   (e-mails to reporters land here, as admin; "
            "set TAKEDOWN_SMTP_HOST to send them)"
        )
    if start_platform:
        err.print(f"  platform  {platform_url}   (the demo platform: post, repost, report)")
    err.print("")
    for line in credentials:
        err.print(f"  {line}")
    err.print("")
    if no_serve:
        return
    child = None
    if start_platform:
        child = subprocess.Popen(  # noqa: S603 - our own example, with our own interpreter
            [sys.executable, str(platform_app)],
            preexec_fn=_die_with_parent,
            env={
                **os.environ,
                "DEMO_TAKEDOWN_URL": base,
                "DEMO_API_KEY": container.demo_platform_key or "",
                "DEMO_SECRET": os.environ["TAKEDOWN_PLATFORM_WEBHOOK_SECRET"],
                "DEMO_DATA_DIR": str(container.settings.data_dir / "demo-platform"),
                "DEMO_HOST": host,
                "DEMO_PORT": str(port + 1),
            },
        )
    if child is not None:
        # uvicorn re-raises the SIGTERM it stopped on once it has shut down, which ends this
        # process before a ``finally`` here would run: stop the platform on the way out.
        stop_child = _stopper(child)
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: Any) -> None:
            stop_child()
            signal.signal(signal.SIGTERM, previous)
            signal.raise_signal(signum)

        signal.signal(signal.SIGTERM, on_term)
    try:
        serve(host=host, port=port)
    finally:
        if child is not None:
            stop_child()


def _port_taken(host: str, port: int) -> str | None:
    """Why ``port`` cannot be listened on at ``host``, or None when it can."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _die_with_parent() -> None:
    """In the child, before it runs: Linux sends it SIGTERM when this process ends, however
    it ends (even killed outright)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the SIGTERM handler and the finally still stop it


def _stopper(child: Any) -> Callable[[], None]:
    import subprocess

    def stop() -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:  # it must not outlive us
                child.kill()

    return stop


@app.command()
def settings(
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="`markdown`: a table (the README's); `env`: an environment file with every "
            "setting commented out at its default, its meaning above it.",
        ),
    ] = "markdown",
) -> None:
    """Print every setting with its default and meaning."""
    import textwrap

    if format not in {"markdown", "env"}:
        raise _fail("--format is markdown or env")
    if format == "markdown":
        typer.echo("| variable | default | meaning |\n| --- | --- | --- |")
    for name, field in Settings.model_fields.items():
        default = field.default
        if default is None:
            value = ""
        elif isinstance(default, bool):
            value = str(default).lower()
        elif name == "data_dir":
            value = "./data"
        else:
            value = str(getattr(default, "value", default))
        if format == "markdown":
            # A table cell's pipe, even in a code span, is escaped (GitHub's tables).
            shown = f"`{value}`".replace("|", "\\|") if default is not None else "(empty)"
            meaning = (field.description or "").replace("|", "\\|")
            typer.echo(f"| `TAKEDOWN_{name.upper()}` | {shown} | {meaning} |")
            continue
        meaning = (field.description or "").replace("`", "")
        for line in textwrap.wrap(meaning, 96, break_long_words=False, break_on_hyphens=False):
            typer.echo(f"# {line}")
        typer.echo(f"#TAKEDOWN_{name.upper()}={value}\n")


register_bank_commands(app, _container, _operator)
register_statement_commands(app, _container, _operator)
register_exchange_commands(app, _container, _operator)


def main() -> None:
    app()
