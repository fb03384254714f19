import importlib

import pytest

PACKAGES = [
    "takedown",
    "takedown.identity",
    "takedown.audit",
    "takedown.cases",
    "takedown.store",
    "takedown.jobs",
    "takedown.api",
    "takedown.server",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name):
    module = importlib.import_module(name)
    exported = module.__all__
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ lists missing {member}"
        assert not member.startswith("_") or member == "__version__"
