"""Request and response bodies of the JSON API (``*Create`` in, ``*Read`` out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, Self, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from takedown.authorities import IpEvent
from takedown.identity import Role, Scope


class StrictModel(BaseModel):
    """Input models refuse unknown fields, so a typo is an error and not a silent no-op. Their
    booleans and integers are ``StrictBool`` and ``StrictInt``: ``0``, ``"true"`` or ``5.0``
    are refused, never read as a boolean or an integer."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64, examples=["ana"])
    role: Role
    password: str | None = Field(
        None, min_length=1, max_length=1024, description="Omit for a token-only account."
    )
    child_safety: StrictBool = Field(
        False, description="May see cases about minors (leads and compliance may by role)."
    )


class ChildSafetyGrant(StrictModel):
    granted: StrictBool


class ReadModel(BaseModel):
    """Output models are read from the services' plain values by attribute name."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, value: object) -> Self:
        return cls.model_validate(value)


class UserRead(ReadModel):
    id: int
    name: str
    role: Role
    child_safety: bool
    active: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


class MeRead(BaseModel):
    kind: str
    name: str
    role: Role | None
    scopes: list[Scope]
    permissions: list[str]


class ApiKeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["upload-path"])
    scopes: list[Scope] = Field(min_length=1, examples=[["scan"]])


class TokenCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["review-tool"])


class ApiKeyRead(ReadModel):
    id: int
    key_id: str
    name: str
    user_id: int | None
    scopes: list[Scope]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @field_validator("scopes", mode="before")
    @classmethod
    def _sorted(cls, scopes: Iterable[Scope]) -> list[Scope]:
        return sorted(scopes)


class ApiKeyIssued(ApiKeyRead):
    secret: str = Field(description="Shown once. Store it now; takedown keeps only its hash.")


class AuditEntryRead(ReadModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, object]
    hash: str


class AuditVerifyRead(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    problems: list[str]


M = TypeVar("M", bound=BaseModel)


class JSONBytes(Response):
    """An answer whose JSON is already encoded, for the busiest routes: its headers are set
    directly (``Response`` works them out in Python for every answer)."""

    media_type = "application/json"

    def __init__(
        self, body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        if headers:
            self.raw_headers += [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers.items()
            ]


def model_json(model: BaseModel) -> bytes:
    """``model.model_dump_json()`` in one call to pydantic-core (the method's own Python
    wrapper costs more than encoding a small model)."""
    return type(model).__pydantic_serializer__.to_json(model)


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``, parsed and validated by pydantic-core in one pass.

    For the routes that run thousands of times a second: FastAPI's own body handling parses
    with the standard library's ``json``, then validates, then the route's dependencies are
    solved per request. Errors are the ones FastAPI raises (``RequestValidationError``, each
    location under ``body``), so the answer is the same 400 or 422. A body that is not
    declared as JSON is validated as raw bytes, which fails as it does in FastAPI. Declare
    the body in the route's OpenAPI with ``openapi_extra=json_body_doc(model)``."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if not content_type or content_type == "application/json" or content_type.endswith("+json"):
            return model.model_validate_json(body)
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` with ``json_body``: the request
    body as FastAPI would have documented it, the model and the models it uses under
    ``components/schemas`` (the app moves them there from ``COMPONENTS_KEY``)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components[model.__name__] = schema
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        },
        COMPONENTS_KEY: components,
    }


COMPONENTS_KEY = "x-takedown-components"


class IpEventIn(StrictModel):
    """An IP address the platform captured for an account, at an event (NCMEC's
    ``ipCaptureEvent``)."""

    ip_address: str = Field(min_length=2, max_length=45, pattern=r"^[0-9A-Fa-f:.]+$")
    event: Literal["Login", "Registration", "Purchase", "Upload", "Other", "Unknown"] = "Upload"
    at: datetime | None = None
    port: StrictInt | None = Field(None, ge=1, le=65535)

    def value(self) -> IpEvent:
        return IpEvent(ip_address=self.ip_address, event=self.event, at=self.at, port=self.port)
