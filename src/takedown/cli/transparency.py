"""``takedown statements``: the statements of reasons, exported for a manual upload to the DSA
Transparency Database (where takedown does not send them itself) or for a check of what was
sent."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer

from takedown.cli.media import err
from takedown.server.container import Container
from takedown.services import dsa_template, transparency, transparency_db
from takedown.services.errors import ServiceError

statements_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Statements of reasons (DSA Article 17) and their copies for the Transparency Database.",
    no_args_is_help=True,
)


def _day(value: str, what: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter(f"{what} is a date: YYYY-MM-DD, not {value!r}") from None


def register_statement_commands(
    app: typer.Typer, container: Callable[[], Container], operator: Callable[[], Any]
) -> None:
    app.add_typer(statements_app, name="statements")

    @app.command("transparency")
    def transparency_report(
        start: Annotated[str, typer.Option("--from", help="The first day (UTC), YYYY-MM-DD.")],
        end: Annotated[str, typer.Option("--to", help="The day after the last, YYYY-MM-DD.")],
        format: Annotated[
            str,
            typer.Option(
                "--format",
                help="`json`, `csv` (one figure a row), or `dsa-template` (the harmonised "
                "templates of Regulation (EU) 2024/2835, a zip of CSV parts; needs --out).",
            ),
        ] = "json",
        out: Annotated[
            Path | None, typer.Option("--out", help="Write here; without it, standard output.")
        ] = None,
        published: Annotated[
            str | None,
            typer.Option("--published", help="dsa-template: the publication date, YYYY-MM-DD."),
        ] = None,
        previous: Annotated[
            str | None,
            typer.Option("--previous", help="dsa-template: the previous report's, YYYY-MM-DD."),
        ] = None,
    ) -> None:
        """Print the transparency report of a period: notices, actions, decisions, the clocks
        (median and 90th percentile), NCII requests decided within 48 hours, appeals and
        reversals, NCMEC reports filed, automated decisions reversed. Figures only."""
        if format not in ("json", "csv", "dsa-template"):
            raise typer.BadParameter("--format is json, csv or dsa-template")
        c = container()
        if format == "dsa-template":
            if out is None:
                raise typer.BadParameter("--format dsa-template writes a zip: give --out")
            try:
                template = dsa_template.build(
                    uow=c.uow(readonly=True), actor=operator(), start=_day(start, "--from"),
                    end=_day(end, "--to"), provider=c.settings.platform_name,
                    published=_day(published, "--published").date() if published
                    else c.clock.now().date(),
                    previous=_day(previous, "--previous").date() if previous else None,
                )  # fmt: skip
            except ServiceError as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from exc
            out.write_bytes(template.zip_bytes())
            err.print(f"wrote {len(template.parts)} parts of the template to {out}")
            return
        try:
            found = transparency.report(
                uow=c.uow(readonly=True),
                actor=operator(),
                start=_day(start, "--from"),
                end=_day(end, "--to"),
            )
        except ServiceError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        text = (
            transparency.figures_csv(found)
            if format == "csv"
            else json.dumps(found.as_json(), indent=2) + "\n"
        )
        if out:
            out.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)

    @statements_app.command("export")
    def export(
        start: Annotated[str, typer.Option("--from", help="The first day (UTC), YYYY-MM-DD.")],
        end: Annotated[str, typer.Option("--to", help="The day after the last, YYYY-MM-DD.")],
        format: Annotated[
            str, typer.Option("--format", help="`json` (the database's API form) or `csv`.")
        ] = "json",
        out: Annotated[
            Path | None, typer.Option("--out", help="Write here; without it, standard output.")
        ] = None,
    ) -> None:
        """Export the statements of reasons made in a period, without personal data: as JSON
        (`{"statements": [...]}`, what `POST /api/v1/statements` takes, in calls of up to 100)
        or as CSV, one statement a row."""
        if format not in ("json", "csv"):
            raise typer.BadParameter("--format is json or csv")
        c = container()
        found = transparency_db.export(
            uow=lambda: c.uow(readonly=True),
            actor=operator(),
            start=_day(start, "--from"),
            end=_day(end, "--to"),
        )
        stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        written = 0
        try:
            if format == "csv":
                writer = csv.writer(stream)
                writer.writerow(transparency_db.CSV_FIELDS)
                for statement in found:
                    writer.writerow(transparency_db.csv_row(statement.fields))
                    written += 1
            else:
                stream.write('{"statements": [')
                for statement in found:
                    stream.write(("," if written else "") + "\n" + json.dumps(statement.fields))
                    written += 1
                stream.write("\n]}\n")
        finally:
            if out:
                stream.close()
        err.print(f"exported {written} statements" + (f" to {out}" if out else ""))
