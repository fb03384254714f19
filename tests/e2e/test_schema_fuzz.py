"""Schema fuzzing: schemathesis over the whole OpenAPI document against a real ``takedown
serve`` process, as a platform key, as a staff token of each role, and with no credential.
Every answer must be a documented status with the documented body, and never a server
error. ``TAKEDOWN_FUZZ_EXAMPLES`` sets the examples per route (a few in ``make test``, many
in ``make fuzz``).

Routes that disable accounts or revoke credentials get the id of an account or key made for
them, never one the fuzzing itself logs in with."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from takedown.bootstrap import default_registry
from takedown.config import Settings
from takedown.identity import Role, Scope
from takedown.server import create_app
from takedown.server.container import Container
from takedown.services import accounts, keys
from takedown.store import Database, migrate
from tests.conftest import OPERATOR, PASSWORD, free_port
from tests.e2e.test_server_process import start, stop, wait_healthy

EXAMPLES = int(os.environ.get("TAKEDOWN_FUZZ_EXAMPLES", "3"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Path parameters pinned to things made for the purpose: what the fuzzer does to them may
# disable an account or revoke a key, which must never be one of its own credentials.
SACRIFICED = {
    ("POST", "/v1/users/{user_id}/disable"): "user_id",
    ("POST", "/v1/users/{user_id}/enable"): "user_id",
    ("DELETE", "/v1/keys/{key_pk}"): "key_pk",
    ("DELETE", "/v1/me/tokens/{key_pk}"): "key_pk",
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")},
        "TAKEDOWN_DATA_DIR": str(data),
        "TAKEDOWN_AUTH_CACHE_SECONDS": "0",
    }
    settings_ = Settings(data_dir=data)
    db = Database(settings_.effective_database_url)
    migrate.upgrade(db)
    container = Container(settings=settings_, db=db, registry=default_registry())
    credentials: dict[str, dict[str, str]] = {"none": {}}
    for role in Role:
        accounts.create_user(
            uow=container.uow(),
            actor=OPERATOR,
            name=f"fuzz-{role.value}",
            role=role,
            password=PASSWORD,
        )
        token = accounts.create_personal_token(
            uow=container.uow(), actor=OPERATOR, user_name=f"fuzz-{role.value}", label="fuzz"
        ).secret
        credentials[role.value] = {"Authorization": f"Bearer {token}"}
    platform = keys.create_api_key(
        uow=container.uow(), actor=OPERATOR, name="fuzz-platform", scopes=list(Scope)
    )
    credentials["platform"] = {"Authorization": f"Bearer {platform.secret}"}
    victim = accounts.create_user(
        uow=container.uow(),
        actor=OPERATOR,
        name="fuzz-victim",
        role=Role.reviewer,
        password=PASSWORD,
    )
    spare_key = keys.create_api_key(
        uow=container.uow(), actor=OPERATOR, name="fuzz-spare", scopes=[Scope.scan]
    )
    db.dispose()
    port = free_port()
    proc, log = start(["serve", "--port", str(port)], env, data)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log)
    yield {
        "url": url,
        "credentials": credentials,
        "sacrificed": {"user_id": victim.id, "key_pk": spare_key.key.id},
    }
    stop(proc, log)


def _document() -> dict:
    """The OpenAPI document the server serves (made by the same code, without a server, so
    the routes are known when tests are collected); a test checks the two are the same."""
    import tempfile

    with tempfile.TemporaryDirectory() as data:
        settings_ = Settings(data_dir=data)
        db = Database(settings_.effective_database_url)
        try:
            return create_app(Container(settings=settings_, db=db)).openapi()
        finally:
            db.dispose()


# Media bodies are bytes whatever their type, as the route reads them.
schemathesis.serializer.alias(["video/mp4"], "application/octet-stream")
DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_fuzzed_document_is_the_one_the_server_serves(fuzz_server):
    import httpx

    assert httpx.get(fuzz_server["url"] + "/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented_for_every_caller(case, fuzz_server):
    pinned = SACRIFICED.get((case.method.upper(), case.operation.path))
    if pinned is not None:
        case.path_parameters = {
            **(case.path_parameters or {}),
            pinned: fuzz_server["sacrificed"][pinned],
        }
    for headers in fuzz_server["credentials"].values():
        case.call_and_validate(base_url=fuzz_server["url"], headers=headers, checks=CHECKS)
