"""``takedown bank …`` and ``takedown match``: hash banks from the shell."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from takedown.cli.media import err, hash_file, line_of, progress_bar
from takedown.identity import IdentityError, Principal
from takedown.matching import BankPolicy
from takedown.matching.hash_files import parse_hash_list
from takedown.server.container import Container
from takedown.services import banks, scanning
from takedown.services.errors import ServiceError

bank_app = typer.Typer(rich_markup_mode="markdown", help="Hash banks.", no_args_is_help=True)
CHUNK = 10_000


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def register(
    app: typer.Typer, container: Callable[[], Container], operator: Callable[[], Principal]
) -> None:
    """Attach the commands; ``container`` and ``operator`` are the CLI's factories."""

    @bank_app.command("create")
    def create(
        name: str,
        policy: Annotated[
            BankPolicy,
            typer.Option(
                metavar="POLICY", help="What a match does: " + ", ".join(BankPolicy) + "."
            ),
        ],
        threshold: Annotated[int, typer.Option(help="PDQ match distance.")] = 31,
        description: Annotated[str, typer.Option(help="What the bank holds.")] = "",
        disabled: Annotated[bool, typer.Option("--disabled", help="Create it off.")] = False,
    ) -> None:
        """Create a bank."""
        c: Container = container()
        try:
            bank = banks.create_bank(
                uow=c.uow(),
                matcher=c.matcher,
                actor=operator(),
                name=name,
                policy=policy,
                pdq_threshold=threshold,
                description=description,
                enabled=not disabled,
            )
        except (ServiceError, IdentityError) as exc:
            raise _fail(str(exc)) from exc
        err.print(f"created bank {bank.name} ({bank.policy}, PDQ within {bank.pdq_threshold})")

    @bank_app.command("list")
    def list_() -> None:
        """List banks as JSON lines."""
        c: Container = container()
        for b in banks.list_banks(uow=c.uow(readonly=True), actor=operator()):
            typer.echo(
                json.dumps(
                    {
                        "name": b.name,
                        "policy": b.policy.value,
                        "pdq_threshold": b.pdq_threshold,
                        "enabled": b.enabled,
                    }
                )
            )

    @bank_app.command("import")
    def import_(
        name: str,
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        source: Annotated[str, typer.Option(help="Where the list came from.")] = "",
    ) -> None:
        """Add the hashes in FILE to bank NAME.

        FILE is CSV (signal_type,value[,note]), a python-threatexchange export (`dataset -P`,
        with or without --csv), or a video's vPDQ hash in Meta's file format (its frames of
        quality 50 or more become PDQ entries). Prints the counts of added, duplicate and
        invalid lines; each invalid line is named on standard error. Exit status 1 if any
        line was invalid.
        """
        c: Container = container()
        listed = parse_hash_list(file.read_text(encoding="utf-8", errors="replace"))
        totals = {"added": 0, "duplicate": 0, "invalid": 0}
        with progress_bar(len(listed), "importing", worth_from=CHUNK + 1) as progress:
            task = progress.task_ids[0]
            for start in range(0, len(listed), CHUNK):
                part = listed[start : start + CHUNK]
                items = [
                    banks.EntryIn(s.signal_type, s.value, source or file.name, s.note) for s in part
                ]
                try:
                    result = banks.add_entries(
                        uow=c.uow(),
                        matcher=c.matcher,
                        actor=operator(),
                        bank_name=name,
                        items=items,
                    )
                except (ServiceError, IdentityError) as exc:
                    raise _fail(str(exc)) from exc
                totals["added"] += result.added
                totals["duplicate"] += result.duplicates
                totals["invalid"] += len(result.invalid)
                for position, reason in result.invalid:
                    err.print(f"{file}:{part[position].line}: {reason}")
                progress.advance(task, len(part))
        typer.echo(json.dumps(totals))
        if totals["invalid"]:
            raise typer.Exit(1)

    @app.command("match")
    def match(
        files: Annotated[
            list[Path], typer.Argument(help="Images and videos to check against the banks.")
        ],
    ) -> None:
        """Hash each file and print its matches and verdict as a JSON line."""
        c: Container = container()
        indexes = c.matcher.indexes()
        failed = 0
        for path in files:
            hashes = hash_file(str(path))
            if isinstance(hashes, dict):
                line = hashes
            else:
                line = line_of(str(path), hashes)
                found, verdict, frames_matched = scanning.match_hashes(
                    indexes, hashes, c.matcher.signal_types
                )
                line["matches"] = [
                    {
                        "bank": m.bank,
                        "signal_type": m.signal_type.value,
                        "entry_id": m.entry_id,
                        "distance": m.distance,
                    }
                    for m in found
                ]
                line["verdict"] = verdict.value
                if frames_matched is not None:
                    line["frames_matched"] = frames_matched
            failed += "error" in line
            typer.echo(json.dumps(line))
        if failed:
            raise typer.Exit(1)

    app.add_typer(bank_app, name="bank")


__all__ = ["register"]
