"""The layers' import rules (docs/architecture.md, "Packages, and what each may import") are
import-linter contracts in pyproject.toml; they hold on the source, and a back-import breaks
them."""

import shutil
import subprocess
import sys
from pathlib import Path

import takedown

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(takedown.__file__).parent


def _lint(pythonpath: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=pythonpath,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_source_keeps_every_import_contract():
    result = _lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 9 kept, 0 broken." in result.stdout


def test_a_back_import_from_the_domain_breaks_a_contract(tmp_path):
    copy = tmp_path / "takedown"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    model = copy / "cases" / "model.py"
    model.write_text(model.read_text() + "\nimport takedown.store.uow  # a back-import\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "The domain knows nothing of HTTP, SQL, Celery" in result.stdout
    assert "BROKEN" in result.stdout


def test_no_module_imports_another_modules_private_names():
    """A leading underscore means "this module's own": what another module needs is public."""
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "takedown"
    found = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("takedown"):
                found += [
                    f"{path.relative_to(src)}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert found == []


def test_use_cases_reactions_and_adapters_type_against_the_unit_of_work_port():
    """``store.UnitOfWork`` is the port; ``SqlAlchemyUnitOfWork`` is named only where units of
    work are made (the store, the job runtime, the container) and by the store's own health
    check (``services.system.readiness``)."""
    src = Path(__file__).resolve().parents[2] / "src" / "takedown"
    named = sorted(
        str(path.relative_to(src))
        for package in ("services", "flows", "api", "web", "cli", "cases", "authorities")
        for path in (src / package).rglob("*.py")
        if "SqlAlchemyUnitOfWork" in path.read_text()
    )
    assert named == ["services/system.py"]
