"""The ``takedown`` command line, a thin adapter over ``takedown.services``."""

from __future__ import annotations

import sys


def main() -> None:
    """The ``takedown`` command. ``takedown hash`` starts on the media package alone (no web
    stack, no database, no bank indexes), so hashing a file from a script costs well under a
    second of start-up instead of the few seconds the whole command takes to import."""
    if len(sys.argv) > 1 and sys.argv[1] == "hash":
        import typer

        from takedown.cli.media import hash_command

        hashing = typer.Typer(add_completion=False, rich_markup_mode="markdown")
        hashing.command()(hash_command)
        hashing(args=sys.argv[2:], prog_name="takedown hash")
        return
    from takedown.cli.main import main as full

    full()


__all__ = ["main"]
