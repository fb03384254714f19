"""Every command's help, printed in a narrow terminal, keeps its words whole and its
paragraphs flowing: the docstring is reflowed to the screen (``rich_markup_mode="markdown"``)
rather than broken at its source lines, and a choice's names are listed in the help text, not
in a narrow column that would split them."""

from __future__ import annotations

import enum
import math
import re

import typer.main
from typer.testing import CliRunner

from takedown.cli.main import app

WORD = re.compile(r"[A-Za-z][A-Za-z_]{4,}")
WIDTH = 60


def _commands(command, path: tuple[str, ...] = ()):
    """Every command and group under ``command`` (typer's own command classes)."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _is_group(command) -> bool:
    return bool(getattr(command, "commands", None))


def _help(path: tuple[str, ...]) -> str:
    shown = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": str(WIDTH)}, terminal_width=WIDTH
    )
    assert shown.exit_code == 0, (path, shown.output)
    return shown.output


def test_every_commands_help_keeps_its_words_whole_in_a_narrow_terminal():
    assert len(list(_commands(typer.main.get_command(app)))) > 30
    broken = []
    for path, command in _commands(typer.main.get_command(app)):
        printed = set(WORD.findall(_help(path)))
        written = [command.help or ""]
        if not _is_group(command):
            for param in command.params:
                written.append(getattr(param, "help", None) or "")
                kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
                if isinstance(kind, type) and issubclass(kind, enum.Enum):
                    written += [str(member.value) for member in kind]
        text = re.sub(r"\[[^\]]*\]|`|\*", " ", " ".join(written))  # markup, not words
        broken += [f"takedown {' '.join(path)}: {w!r}" for w in set(WORD.findall(text)) - printed]
    assert broken == [], "\n".join(broken)


def test_a_commands_description_is_reflowed_not_broken_at_its_source_lines():
    ragged = []
    for path, command in _commands(typer.main.get_command(app)):
        if _is_group(command) or not command.help:
            continue
        output = _help(path)
        description = output.split("Usage:", 1)[1].split("╭", 1)[0].splitlines()[1:]
        lines = [line.strip() for line in description if line.strip()]
        paragraphs = [p for p in re.split(r"\n\s*\n", command.help) if p.strip()]
        room = WIDTH - 4
        most = sum(math.ceil(len(" ".join(p.split())) / (room * 0.8)) for p in paragraphs)
        if len(lines) > most:
            ragged.append(f"takedown {' '.join(path)}: {len(lines)} lines, at most {most}")
    assert ragged == []
