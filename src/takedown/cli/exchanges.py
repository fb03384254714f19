"""``takedown exchanges …``: the hash exchanges a bank is kept in step with, from the shell."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from takedown.cli.media import err
from takedown.identity import IdentityError, Principal
from takedown.matching.exchanges import Exchange, ExchangeKind
from takedown.server.container import Container
from takedown.services import exchanges
from takedown.services.errors import ServiceError

exchanges_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Hash exchanges (NCMEC, StopNCII, a list).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def status_json(exchange: Exchange, *, entries: int | None = None) -> dict[str, Any]:
    """An exchange's configuration and sync status, without its credentials."""
    out: dict[str, Any] = {
        "name": exchange.name,
        "kind": exchange.kind.value,
        "url": exchange.url,
        "enabled": exchange.enabled,
        "interval_seconds": exchange.interval_seconds,
        "has_credentials": exchange.has_credentials,
        "last_fetch_at": exchange.last_fetch_at.isoformat() if exchange.last_fetch_at else None,
        "last_success_at": (
            exchange.last_success_at.isoformat() if exchange.last_success_at else None
        ),
        "next_run_at": exchange.next_run_at.isoformat() if exchange.next_run_at else None,
        "checkpoint": exchange.checkpoint,
        "fetched": exchange.fetched,
        "added": exchange.added,
        "withdrawn": exchange.withdrawn,
        "errors": exchange.errors[:10],
    }
    if entries is not None:
        out["entries"] = entries
    return out


def register(
    app: typer.Typer, container: Callable[[], Container], operator: Callable[[], Principal]
) -> None:
    """Attach the commands; ``container`` and ``operator`` are the CLI's factories."""

    @exchanges_app.command("add")
    def add(
        name: str,
        kind: Annotated[
            ExchangeKind,
            typer.Option(
                metavar="KIND", help="Which exchange it is: " + ", ".join(ExchangeKind) + "."
            ),
        ],
        bank: Annotated[str, typer.Option(help="The bank its hashes go to.")],
        url: Annotated[
            str, typer.Option(help="The exchange's API root, or the list's address or path.")
        ],
        credentials_file: Annotated[
            Path | None,
            typer.Option(
                exists=True,
                dir_okay=False,
                readable=True,
                help="A JSON file with the credentials: for StopNCII its subscription and "
                "functions keys, for NCMEC a username and password (docs/exchanges.md names "
                "the fields). Kept sealed; never printed.",
            ),
        ] = None,
        every: Annotated[
            int, typer.Option(help="Seconds between syncs.", min=exchanges.MIN_INTERVAL)
        ] = exchanges.DEFAULT_INTERVAL,
    ) -> None:
        """Keep bank BANK in step with an exchange; its first sync is due at once."""
        c: Container = container()
        credentials = None
        if credentials_file is not None:
            try:
                credentials = json.loads(credentials_file.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise _fail(f"{credentials_file} is not a JSON object") from exc
            if not isinstance(credentials, dict):
                raise _fail(f"{credentials_file} is not a JSON object")
        try:
            exchange = exchanges.add_exchange(
                uow=c.uow(),
                actor=operator(),
                vault=c.vault,
                name=name,
                kind=kind,
                bank=bank,
                url=url,
                credentials=credentials,
                interval_seconds=every,
                now=c.now(),
            )
        except (ServiceError, IdentityError) as exc:
            raise _fail(str(exc)) from exc
        sealed = "sealed" if c.vault is not None else "NOT sealed (no TAKEDOWN_EVIDENCE_KEY)"
        note = f", credentials {sealed}" if credentials else ""
        err.print(f"added exchange {exchange.name} ({exchange.kind}) for bank {bank}{note}")

    @exchanges_app.command("sync")
    def sync(name: str) -> None:
        """One pass of NAME's sync now, from its checkpoint. Prints what it fetched, added,
        withdrew and failed as JSON; exit status 1 if the pass failed."""
        c: Container = container()
        try:
            result = exchanges.sync_exchange(c.exchange_sync(), name=name, actor=operator())
        except (ServiceError, IdentityError) as exc:
            raise _fail(str(exc)) from exc
        for problem in result.problems[:20]:
            err.print(f"{name}: skipped: {problem}")
        typer.echo(json.dumps(sync_json(result)))
        if not result.ok:
            raise _fail(f"{name}: {result.error}")

    @exchanges_app.command("check")
    def check(name: str) -> None:
        """Try NAME's address and credentials with one cheap request (NCMEC's status, say);
        changes nothing. Exit status 1 if it failed."""
        c: Container = container()
        try:
            ok, detail = exchanges.check_exchange(c.exchange_sync(), name=name, actor=operator())
        except (ServiceError, IdentityError) as exc:
            raise _fail(str(exc)) from exc
        if not ok:
            raise _fail(f"{name}: {detail}")
        err.print(f"{name}: {detail}")

    @exchanges_app.command("list")
    def list_() -> None:
        """Every exchange and its sync status, as JSON lines."""
        c: Container = container()
        try:
            found = exchanges.list_exchanges(uow=c.uow(readonly=True), actor=operator())
        except (ServiceError, IdentityError) as exc:
            raise _fail(str(exc)) from exc
        for exchange in found:
            typer.echo(json.dumps(status_json(exchange)))

    app.add_typer(exchanges_app, name="exchanges")


def sync_json(result: exchanges.SyncResult) -> dict[str, Any]:
    return {
        "exchange": result.exchange,
        "pages": result.pages,
        "fetched": result.fetched,
        "added": result.added,
        "withdrawn": result.withdrawn,
        "restored": result.restored,
        "skipped": len(result.problems),
        "failed": result.error,
    }


__all__ = ["register", "status_json", "sync_json"]
