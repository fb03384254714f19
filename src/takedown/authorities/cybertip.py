"""A CyberTipline report as values, and the XML NCMEC's Reporting API takes.

``Tip`` is what one report says; ``report_xml`` writes the ``<report>`` document for
``/submit`` and ``file_details_xml`` the ``<fileDetails>`` document for ``/fileinfo``. Every
element is written in the order NCMEC's schema demands (it refuses out-of-order XML with
response code 4100), and optional elements are left out, never written empty. The values
are plain: building a tip from a case is the filing service's work (``services.filing``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from lxml import etree

SCHEMA_LOCATION = "https://report.cybertip.org/ispws/xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


class IncidentType(StrEnum):
    """NCMEC's incident types (``incidentSummary/incidentType``), as NCMEC spells them."""

    child_pornography = "Child Pornography (possession, manufacture, and distribution)"
    child_sex_trafficking = "Child Sex Trafficking"
    child_sex_tourism = "Child Sex Tourism"
    child_sexual_molestation = "Child Sexual Molestation"
    misleading_domain_name = "Misleading Domain Name"
    misleading_words_or_images = "Misleading Words or Digital Images on the Internet"
    online_enticement = "Online Enticement of Children for Sexual Acts"
    unsolicited_obscene_material = "Unsolicited Obscene Material Sent to a Child"


class ReportAnnotation(StrEnum):
    """Tags of the whole report (``reportAnnotations``), in the schema's order."""

    sextortion = "sextortion"
    csam_solicitation = "csamSolicitation"
    minor_to_minor_interaction = "minorToMinorInteraction"
    spam = "spam"
    sadistic_online_exploitation = "sadisticOnlineExploitation"


class FileAnnotation(StrEnum):
    """Tags of one file (``fileAnnotations``), in the schema's order."""

    anime_drawing_virtual_hentai = "animeDrawingVirtualHentai"
    potential_meme = "potentialMeme"
    viral = "viral"
    possible_self_production = "possibleSelfProduction"
    physical_harm = "physicalHarm"
    violence_gore = "violenceGore"
    bestiality = "bestiality"
    live_streaming = "liveStreaming"
    infant = "infant"
    generative_ai = "generativeAi"


class IndustryClassification(StrEnum):
    """The industry classification a reviewer gives a file (the Tech Coalition's scale):
    A prepubescent, B pubescent; 1 a sex act, 2 a lascivious exhibition."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"


@dataclass(frozen=True)
class IpEvent:
    """An IP address captured at an event (``ipCaptureEvent``)."""

    ip_address: str
    event: str = "Upload"  # Login, Registration, Purchase, Upload, Other or Unknown
    at: datetime | None = None
    port: int | None = None


@dataclass(frozen=True)
class Contact:
    """A person: the reporter (required: a name and an e-mail) or a victim."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    age: int | None = None


@dataclass(frozen=True)
class ReportedUser:
    """The account that uploaded the content (``personOrUserReported``)."""

    esp_identifier: str
    esp_service: str | None = None
    screen_name: str | None = None
    display_names: tuple[str, ...] = ()
    profile_urls: tuple[str, ...] = ()
    ip_events: tuple[IpEvent, ...] = ()
    prior_reports: tuple[int, ...] = ()  # NCMEC's ids of earlier reports about this account
    disabled_at: datetime | None = None  # suspended by the platform (temporarily)
    additional_info: str | None = None


@dataclass(frozen=True)
class Victim:
    person: Contact
    esp_identifier: str | None = None
    screen_name: str | None = None
    additional_info: str | None = None


@dataclass(frozen=True)
class LawEnforcement:
    agency: str
    case_number: str | None = None


@dataclass(frozen=True)
class TipFile:
    """One file of the report and what is known of it (``fileDetails``)."""

    original_file_name: str | None = None
    uploaded_at: datetime | None = None
    location: str | None = None  # where it was on the platform
    viewed_by_esp: bool = False  # a person at the platform looked at it
    publicly_available: bool | None = None
    classification: IndustryClassification | None = None
    annotations: frozenset[FileAnnotation] = frozenset()
    hashes: tuple[tuple[str, str], ...] = ()  # (hashType, value): MD5, SHA256
    ip_events: tuple[IpEvent, ...] = ()
    additional_info: str | None = None


@dataclass(frozen=True)
class Tip:
    """One CyberTipline report."""

    incident_type: IncidentType
    incident_at: datetime
    reporter: Contact
    platform: str | None = None
    escalate: str | None = None  # why a child may be in danger now (escalates the report)
    annotations: frozenset[ReportAnnotation] = frozenset()
    incident_description: str | None = None
    urls: tuple[str, ...] = ()  # where it was seen (``internetDetails/webPageIncident``)
    law_enforcement: LawEnforcement | None = None
    reported: ReportedUser | None = None
    victims: tuple[Victim, ...] = ()
    batched_viral: bool = False  # one report for an item spreading widely
    terms_of_service: str | None = None
    additional_info: str | None = None
    files: tuple[TipFile, ...] = field(default=())


def timestamp(at: datetime) -> str:
    """An ISO 8601 time with its offset, as the schema's ``xs:dateTime`` takes it."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# What XML 1.0 cannot carry: C0 controls but tab and newlines, surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML cannot carry replaced by U+FFFD. Text is refused
    with such characters where it enters; this keeps a report written before that check (or
    through a path that missed it) fileable rather than failing in lxml."""
    return _NOT_XML.sub("\ufffd", text)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timestamp(value)
    return xml_safe(str(value))


def _add(parent: etree._Element, tag: str, value: object = None) -> etree._Element | None:
    """Append ``<tag>value</tag>``; nothing when ``value`` is None or empty text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    node = etree.SubElement(parent, tag)
    node.text = _text(value)
    return node


def _root(tag: str) -> etree._Element:
    root = etree.Element(tag, nsmap={"xsi": _XSI})
    root.set(f"{{{_XSI}}}noNamespaceSchemaLocation", SCHEMA_LOCATION)
    return root


def _person(parent: etree._Element, tag: str, person: Contact) -> None:
    node = etree.SubElement(parent, tag)
    _add(node, "firstName", person.first_name)
    _add(node, "lastName", person.last_name)
    _add(node, "phone", person.phone)
    _add(node, "email", person.email)
    _add(node, "age", person.age)


def _ip_event(parent: etree._Element, event: IpEvent) -> None:
    node = etree.SubElement(parent, "ipCaptureEvent")
    _add(node, "ipAddress", event.ip_address)
    _add(node, "eventName", event.event)
    _add(node, "dateTime", event.at)
    _add(node, "port", event.port)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def report_xml(tip: Tip) -> bytes:
    """The ``<report>`` document for ``/submit``."""
    root = _root("report")
    if tip.batched_viral:
        etree.SubElement(root, "batchedReport", reason="viral")
    summary = etree.SubElement(root, "incidentSummary")
    _add(summary, "incidentType", tip.incident_type.value)
    _add(summary, "platform", tip.platform)
    _add(summary, "escalateToHighPriority", tip.escalate)
    if tip.annotations:
        tags = etree.SubElement(summary, "reportAnnotations")
        for annotation in ReportAnnotation:
            if annotation in tip.annotations:
                etree.SubElement(tags, annotation.value)
    _add(summary, "incidentDateTime", tip.incident_at)
    _add(summary, "incidentDateTimeDescription", tip.incident_description)
    if tip.urls:
        page = etree.SubElement(etree.SubElement(root, "internetDetails"), "webPageIncident")
        for url in tip.urls:
            _add(page, "url", url)
    if tip.law_enforcement is not None:
        police = etree.SubElement(root, "lawEnforcement")
        _add(police, "agencyName", tip.law_enforcement.agency)
        _add(police, "caseNumber", tip.law_enforcement.case_number)
        _add(police, "reportedToLe", True)
    reporter = etree.SubElement(root, "reporter")
    _person(reporter, "reportingPerson", tip.reporter)
    _add(reporter, "termsOfService", tip.terms_of_service)
    if tip.reported is not None:
        user = tip.reported
        node = etree.SubElement(root, "personOrUserReported")
        _add(node, "espIdentifier", user.esp_identifier)
        _add(node, "espService", user.esp_service)
        _add(node, "screenName", user.screen_name)
        for name in user.display_names:
            _add(node, "displayName", name)
        for url in user.profile_urls:
            _add(node, "profileUrl", url)
        for event in user.ip_events:
            _ip_event(node, event)
        for prior in user.prior_reports:
            _add(node, "priorCTReports", prior)
        if user.disabled_at is not None:
            disabled = _add(node, "accountTemporarilyDisabled", True)
            assert disabled is not None
            disabled.set("disabledDate", timestamp(user.disabled_at))
        _add(node, "additionalInfo", user.additional_info)
    for victim in tip.victims:
        node = etree.SubElement(root, "victim")
        _person(node, "victimPerson", victim.person)
        _add(node, "espIdentifier", victim.esp_identifier)
        _add(node, "screenName", victim.screen_name)
        _add(node, "additionalInfo", victim.additional_info)
    _add(root, "additionalInfo", tip.additional_info)
    return _serialise(root)


def file_details_xml(report_id: int, file_id: str, file: TipFile) -> bytes:
    """The ``<fileDetails>`` document for ``/fileinfo``."""
    root = _root("fileDetails")
    _add(root, "reportId", report_id)
    _add(root, "fileId", file_id)
    _add(root, "originalFileName", file.original_file_name)
    _add(root, "uploadedToEspTimestamp", file.uploaded_at)
    _add(root, "locationOfFile", file.location)
    _add(root, "fileViewedByEsp", file.viewed_by_esp)
    _add(root, "publiclyAvailable", file.publicly_available)
    _add(root, "fileRelevance", "Reported")
    if file.annotations:
        tags = etree.SubElement(root, "fileAnnotations")
        for annotation in FileAnnotation:
            if annotation in file.annotations:
                etree.SubElement(tags, annotation.value)
    if file.classification is not None:
        _add(root, "industryClassification", file.classification.value)
    for hash_type, value in file.hashes:
        node = _add(root, "originalFileHash", value)
        assert node is not None
        node.set("hashType", hash_type)
    for event in file.ip_events:
        _ip_event(root, event)
    _add(root, "additionalInfo", file.additional_info)
    return _serialise(root)
