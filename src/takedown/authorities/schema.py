"""Checking a document against the CyberTipline schema before it is sent.

A report that NCMEC would refuse must be refused here, before ``/submit`` issues a report id:
a peer's known fault was a file step refused for element order after the report existed, which
leaves a half-filed report. ``shipped()`` is the schema that comes with takedown
(``cybertipline.xsd``); ``Schema.parse`` reads the one NCMEC's server serves at ``/xsd``,
which is the authority, and ``digest`` says whether it changed since it was last seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree


class SchemaInvalid(ValueError):
    """The document breaks the schema; ``problems`` says where, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class SchemaUnreadable(ValueError):
    """The schema itself could not be read (not XML, or not a valid XSD)."""


def _secure_parser() -> etree.XMLParser:
    # No DTDs, entities or network: a document is data, never instructions to fetch more.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class Schema:
    source: bytes
    xsd: etree.XMLSchema

    @classmethod
    def parse(cls, source: bytes) -> Schema:
        try:
            tree = etree.fromstring(source, parser=_secure_parser())
            return cls(source=source, xsd=etree.XMLSchema(tree))
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise SchemaUnreadable(f"not a readable XML schema: {exc}") from None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source).hexdigest()

    def validate(self, document: bytes) -> None:
        """Raise ``SchemaInvalid`` naming each problem, or return quietly."""
        try:
            tree = etree.fromstring(document, parser=_secure_parser())
        except etree.XMLSyntaxError as exc:
            raise SchemaInvalid([f"not well-formed XML: {exc}"]) from None
        if self.xsd.validate(tree):
            return
        errors: Any = self.xsd.error_log
        raise SchemaInvalid([f"line {e.line}: {e.message}" for e in errors])


@cache
def shipped() -> Schema:
    """The schema shipped with takedown."""
    source = resources.files("takedown.authorities").joinpath("cybertipline.xsd").read_bytes()
    return Schema.parse(source)
