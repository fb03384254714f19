"""The layers' import rules that hold today (docs/architecture.md, "Packages"): the
adapters `api` and `web` never import each other; the HTTP plumbing in `server` imports the
pages only in the app factory, which assembles both; nothing below the adapters imports
`server`, `api` or `web`. Checked on the source, so a back-import fails the suite."""

import ast
from pathlib import Path

import pytest

import takedown

ROOT = Path(takedown.__file__).parent
BELOW_ADAPTERS = ("media", "matching", "cases", "identity", "audit", "store", "services", "jobs")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _offences(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_api_and_web_never_import_each_other():
    assert _offences(_modules("api"), ("takedown.web",)) == []
    assert _offences(_modules("web"), ("takedown.api",)) == []


def test_the_server_plumbing_reaches_the_pages_only_through_the_app_factory():
    plumbing = [p for p in _modules("server") if p.name != "app.py"]
    assert plumbing and _offences(plumbing, ("takedown.web",)) == []


@pytest.mark.parametrize("package", BELOW_ADAPTERS)
def test_nothing_below_the_adapters_imports_them(package):
    adapters = ("takedown.server", "takedown.api", "takedown.web", "takedown.cli")
    assert _offences(_modules(package), adapters) == []
