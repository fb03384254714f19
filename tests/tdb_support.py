"""A local stand-in for the DSA Transparency Database's API (``POST /api/v1/statements``), as
strict as the real one's validation (``StatementStoreRequest.php`` and
``StatementMultipleAPIController.php`` of digital-services-act/transparency-database):

- a Bearer token, else 401;
- ``{"statements": [...]}`` with 1 to 100 statements, else 422;
- each statement's required and conditional fields, and every enumeration, else 422 with
  ``errors`` naming them, and nothing stored;
- a ``puid`` already stored (or twice in the call) refuses the whole call with 422 and
  ``errors.existing_puids``; nothing of it is stored;
- on success, 201 with the statements.

``fail_next`` answers that many calls with 503 first, for retries."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DECISION_GROUNDS = {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
VISIBILITIES = {
    "DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
}  # fmt: skip
MONETARIES = {
    "DECISION_MONETARY_SUSPENSION",
    "DECISION_MONETARY_TERMINATION",
    "DECISION_MONETARY_OTHER",
}
PROVISIONS = {
    "DECISION_PROVISION_PARTIAL_SUSPENSION", "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION", "DECISION_PROVISION_TOTAL_TERMINATION",
}  # fmt: skip
ACCOUNTS = {"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"}
CONTENT_TYPES = {
    "CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER",
}  # fmt: skip
CATEGORIES = {
    "STATEMENT_CATEGORY_ANIMAL_WELFARE", "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE", "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", "STATEMENT_CATEGORY_VIOLENCE",
}  # fmt: skip
# The keywords takedown may name, of the database's 68 (a strict subset: any other is refused).
KEYWORDS = {
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS", "KEYWORD_OTHER",
}  # fmt: skip
SOURCE_TYPES = {
    "SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
}  # fmt: skip
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED",
}  # fmt: skip
COUNTRIES = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip
PUID = re.compile(r"^[a-zA-Z0-9\-_]+\Z")


def _date(value: Any, low: str, high: str = "2038-01-01") -> bool:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str) and len(value) == 10 and low <= day.isoformat() <= high


def problems(s: Any) -> list[str]:
    """What the database's validation refuses in one statement (empty: it is valid)."""
    if not isinstance(s, dict):
        return ["not an object"]
    out: list[str] = []

    def check(name: str, ok: bool) -> None:
        if not ok:
            out.append(name)

    def one_of(name: str, allowed: set[str], *, required: bool = False) -> None:
        value = s.get(name)
        if value is None:
            check(f"{name} is required", not required)
        else:
            check(f"{name} is not one of its values", value in allowed)

    def all_of(name: str, allowed: set[str], *, required: bool = False) -> None:
        value = s.get(name)
        if value is None:
            check(f"{name} is required", not required)
        else:
            check(
                f"{name} must be a list of its values",
                isinstance(value, list) and all(v in allowed for v in value),
            )

    decisions = (
        "decision_visibility",
        "decision_monetary",
        "decision_provision",
        "decision_account",
    )
    check("one of the decision fields is required", any(s.get(d) for d in decisions))
    all_of("decision_visibility", VISIBILITIES)
    one_of("decision_monetary", MONETARIES)
    one_of("decision_provision", PROVISIONS)
    one_of("decision_account", ACCOUNTS)
    if "DECISION_VISIBILITY_OTHER" in (s.get("decision_visibility") or []):
        check("decision_visibility_other is required", bool(s.get("decision_visibility_other")))
    one_of("decision_ground", DECISION_GROUNDS, required=True)
    ground = s.get("decision_ground")
    for name, limit in (
        ("illegal_content_legal_ground", 500),
        ("illegal_content_explanation", 2000),
    ):
        if ground == "DECISION_GROUND_ILLEGAL_CONTENT":
            check(f"{name} is required", bool(s.get(name)) and len(s[name]) <= limit)
    for name, limit in (
        ("incompatible_content_ground", 500),
        ("incompatible_content_explanation", 2000),
    ):
        if ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
            check(f"{name} is required", bool(s.get(name)) and len(s[name]) <= limit)
    if ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT" and "incompatible_content_illegal" in s:
        check(
            "incompatible_content_illegal is Yes or No",
            s["incompatible_content_illegal"] in ("Yes", "No"),
        )
    all_of("content_type", CONTENT_TYPES, required=True)
    if "CONTENT_TYPE_OTHER" in (s.get("content_type") or []):
        check("content_type_other is required", bool(s.get("content_type_other")))
    one_of("category", CATEGORIES, required=True)
    all_of("category_addition", CATEGORIES)
    all_of("category_specification", KEYWORDS)
    all_of("territorial_scope", COUNTRIES)
    check("content_date is a date from 2000", _date(s.get("content_date"), "2000-01-01"))
    check("application_date is a date from 2020", _date(s.get("application_date"), "2020-01-01"))
    for name in (
        "end_date_account_restriction", "end_date_monetary_restriction",
        "end_date_service_restriction", "end_date_visibility_restriction",
    ):  # fmt: skip
        if s.get(name) is not None:
            check(f"{name} is a date", _date(s[name], "2000-01-01"))
    facts = s.get("decision_facts")
    check("decision_facts is required", isinstance(facts, str) and 0 < len(facts) <= 5000)
    one_of("source_type", SOURCE_TYPES, required=True)
    check("automated_detection is Yes or No", s.get("automated_detection") in ("Yes", "No"))
    one_of("automated_decision", AUTOMATED_DECISIONS, required=True)
    puid = s.get("puid")
    check("puid is required", isinstance(puid, str) and len(puid) <= 500 and bool(PUID.match(puid)))
    return out


@dataclass
class TransparencyDatabase:
    token: str = "tdb-token"
    fail_next: int = 0
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[int] = field(default_factory=list)  # statements per call, answered or not
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Unauthenticated."}
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {"message": "not JSON"}
        statements = payload.get("statements") if isinstance(payload, dict) else None
        with self.lock:
            self.calls.append(len(statements) if isinstance(statements, list) else -1)
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"message": "Service Unavailable"}
            if not isinstance(statements, list) or not 1 <= len(statements) <= 100:
                return 422, {"errors": {"statements": ["between 1 and 100 statements"]}}
            errors = {f"statement_{n}": p for n, s in enumerate(statements) if (p := problems(s))}
            if errors:
                return 422, {"message": "invalid statements", "errors": errors}
            puids = [s["puid"] for s in statements]
            seen = [p for p in puids if p in self.stored] + [
                p for n, p in enumerate(puids) if p in puids[:n]
            ]
            if seen:
                message = "The platform identifier(s) are not all unique within this call."
                return 422, {
                    "message": message,
                    "errors": {"puid": [message], "existing_puids": sorted(set(seen))},
                }
            for s in statements:
                self.stored[s["puid"]] = s
            return 201, {"statements": statements}


class _Handler(BaseHTTPRequestHandler):
    tdb: TransparencyDatabase

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/api/v1/statements":
            status, answer = 404, {"message": "Not Found"}
        else:
            status, answer = self.tdb.answer(self.headers, body)
        self.tdb.answers.append(status)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


def serve(tdb: TransparencyDatabase) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``tdb`` on a free local port; gives the server and its API root."""
    handler = type("Handler", (_Handler,), {"tdb": tdb})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/api/v1"
