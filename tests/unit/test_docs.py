"""The docs stay true to the code."""

from pathlib import Path

from typer.testing import CliRunner

from takedown.cli.main import app
from takedown.config import Settings
from takedown.identity import ROLE_PERMISSIONS, Permission

ROOT = Path(__file__).resolve().parents[2]


def test_readme_settings_table_is_what_the_code_prints():
    printed = CliRunner().invoke(app, ["settings"]).output
    assert printed.strip() in (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"TAKEDOWN_{name.upper()}" in printed


def test_access_doc_lists_every_permission_of_every_role():
    text = (ROOT / "docs" / "access.md").read_text()
    for role, permissions in ROLE_PERMISSIONS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{role}` |"))
        for permission in Permission:
            assert (f"`{permission}`" in row) == (permission in permissions), (role, permission)
