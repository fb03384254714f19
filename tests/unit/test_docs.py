"""The docs stay true to the code."""

import os
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


def test_the_architecture_page_is_a_map_and_names_only_modules_that_exist():
    """A map a newcomer reads in one sitting (under 2,500 words), whose every
    ``package/module.py`` and ``module.function`` it names in the paths is in the code."""
    import importlib
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    assert len(text.split()) < 2500
    src = ROOT / "src" / "takedown"
    for path in set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)`", text)):
        assert (ROOT / path).exists() or (src / path).exists() or any(src.glob(f"*/{path}")), path
    for dotted in set(re.findall(r"`((?:services|flows|jobs|bootstrap)\.[a-z_.]+)`", text)):
        try:  # a module of its own, or a name in its module
            importlib.import_module(f"takedown.{dotted}")
        except ModuleNotFoundError:
            module, _, name = dotted.rpartition(".")
            assert hasattr(importlib.import_module(f"takedown.{module}"), name), dotted


def test_the_performance_page_keeps_goals_and_figures_and_leaves_history_to_the_record():
    text = (ROOT / "docs" / "performance.md").read_text()
    assert len(text.split()) < 3000
    assert (ROOT / "bench" / "RECORD.md").exists()
    for name in ("intake", "review", "enforcement", "filing", "scan_http", "hashing", "index"):
        assert f"BENCH={name}`" in text, name
        assert (ROOT / "bench" / f"{name}.py").exists(), name


def test_the_reference_deployment_names_every_setting_and_starts_in_production_once_changed(
    monkeypatch,
):
    """``examples/deploy/takedown.env``: every setting of this version, with its meaning; and
    with its CHANGE values filled in, production mode accepts it."""
    text = (ROOT / "examples" / "deploy" / "takedown.env").read_text()
    for name in Settings.model_fields:
        assert f"TAKEDOWN_{name.upper()}=" in text, name
    values = {}
    for line in text.splitlines():
        if line.startswith("TAKEDOWN_"):
            key, _, value = line.partition("=")
            values[key] = value
    values["TAKEDOWN_EVIDENCE_KEY"] = "ab" * 32
    values = {k: v.replace("CHANGE", "secret") for k, v in values.items()}
    for key in [k for k in os.environ if k.startswith("TAKEDOWN_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    settings.check_production()
    assert settings.broker_url.startswith("amqp://") and settings.mode.value == "production"
    for unit in ("takedown-web@.service", "takedown-relay@.service", "takedown-worker@.service"):
        assert (
            "EnvironmentFile=/etc/takedown/takedown.env"
            in (ROOT / "examples" / "deploy" / unit).read_text()
        )
