"""NCMEC's CyberTipline Reporting API as a strict local server would speak it.

Endpoints as NCMEC documents them: ``GET /status``, ``GET /xsd``, ``POST /submit`` (a
``<report>``; answers ``<reportResponse>`` with a ``reportId``), ``POST /upload`` (multipart
``id`` and ``file``; answers a ``fileId`` and the file's MD5 as ``hash``), ``POST /fileinfo``
(a ``<fileDetails>``), ``POST /finish`` and ``POST /retract`` (form ``id``; ``/finish``
answers ``<reportDoneResponse>``). Every request needs HTTP Basic credentials (401 without).
A document whose elements are out of order, unknown, or missing a required one is answered
``responseCode`` 4100, checked here from its own lists of NCMEC's element order, not from
takedown's schema. It counts every ``/submit``, and can fail a path with 500 a number of
times, hang in ``/submit`` (after making the report) or in ``/upload``, drop the connection
after making a report, or stop after answering ``/submit`` (and start again on the same port
with the same state) for the fault tests.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import itertools
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from lxml import etree

USERNAME = "esp-test"
PASSWORD = "ncmec-test-password"

# NCMEC's element order (its documentation's appendices); "!" marks a required child.
ORDER: dict[str, list[str]] = {
    "report": [
        "batchedReport", "!incidentSummary", "internetDetails", "lawEnforcement", "!reporter",
        "personOrUserReported", "intendedRecipient", "victim", "additionalInfo",
    ],
    "incidentSummary": [
        "!incidentType", "platform", "escalateToHighPriority", "reportAnnotations",
        "!incidentDateTime", "incidentDateTimeDescription",
    ],
    "reportAnnotations": [
        "sextortion", "csamSolicitation", "minorToMinorInteraction", "spam",
        "sadisticOnlineExploitation", "informational",
    ],
    "webPageIncident": ["url", "additionalInfo"],
    "lawEnforcement": [
        "!agencyName", "caseNumber", "officerContact", "reportedToLe",
        "servedLegalProcessDomestic", "servedLegalProcessInternational",
    ],
    "reporter": ["!reportingPerson", "contactPerson", "companyTemplate", "termsOfService",
                 "legalURL"],
    "reportingPerson": ["firstName", "lastName", "phone", "!email", "address", "age",
                        "ageAssertionDiscrepancy", "dateOfBirth"],
    "victimPerson": ["firstName", "lastName", "phone", "email", "address", "age",
                     "ageAssertionDiscrepancy", "dateOfBirth"],
    "personOrUserReported": [
        "personOrUserReportedPerson", "vehicleDescription", "espIdentifier", "espService",
        "compromisedAccount", "screenName", "displayName", "profileUrl", "profileBio",
        "ipCaptureEvent", "deviceId", "thirdPartyUserReported", "priorCTReports",
        "groupIdentifier", "accountTemporarilyDisabled", "accountPermanentlyDisabled",
        "estimatedLocation", "allEmailsReported", "associatedAccount", "additionalInfo",
    ],
    "victim": [
        "!victimPerson", "espIdentifier", "espService", "compromisedAccount", "screenName",
        "displayName", "profileUrl", "profileBio", "ipCaptureEvent", "deviceId", "schoolName",
        "priorCTReports", "estimatedLocation", "allEmailsReported", "associatedAccount",
        "additionalInfo",
    ],
    "ipCaptureEvent": ["!ipAddress", "eventName", "dateTime", "possibleProxy", "port"],
    "fileDetails": [
        "!reportId", "!fileId", "fileName", "originalFileName", "uploadedToEspTimestamp",
        "locationOfFile", "fileViewedByEsp", "exifViewedByEsp", "publiclyAvailable",
        "fileRelevance", "fileAnnotations", "industryClassification", "originalFileHash",
        "ipCaptureEvent", "deviceId", "details", "additionalInfo",
    ],
    "fileAnnotations": [
        "animeDrawingVirtualHentai", "potentialMeme", "viral", "possibleSelfProduction",
        "physicalHarm", "violenceGore", "bestiality", "liveStreaming", "infant", "generativeAi",
    ],
}  # fmt: skip


def ncmec_settings(server: NcmecControl, **overrides: object) -> dict[str, object]:
    """The settings that point takedown at ``server`` (for ``tests.conftest.make_settings``)."""
    return {
        "ncmec_url": server.url,
        "ncmec_username": USERNAME,
        "ncmec_password": PASSWORD,
        "ncmec_reporter_name": "Trust and Safety Team",
        "ncmec_reporter_email": "safety@platform.example",
        "ncmec_esp_service": "Example Platform",
    } | overrides


def problems(root: etree._Element) -> list[str]:
    """What breaks NCMEC's element order or its required elements, anywhere in ``root``."""
    found: list[str] = []
    for node in root.iter():
        if not isinstance(node.tag, str) or node.tag not in ORDER:
            continue
        order = [name.lstrip("!") for name in ORDER[node.tag]]
        required = {name[1:] for name in ORDER[node.tag] if name.startswith("!")}
        at = -1
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag not in order:
                found.append(f"{node.tag}: unexpected <{child.tag}>")
                continue
            index = order.index(child.tag)
            if index < at:
                found.append(f"{node.tag}: <{child.tag}> out of order")
            at = max(at, index)
        present = {c.tag for c in node}
        found += [f"{node.tag}: <{name}> is required" for name in sorted(required - present)]
    return found


@dataclass
class FiledFile:
    name: str
    md5: str
    size: int
    details: bytes | None = None


@dataclass
class FiledReport:
    xml: bytes
    files: dict[str, FiledFile] = field(default_factory=dict)
    finished: bool = False
    retracted: bool = False


@dataclass
class Ncmec:
    url: str = ""
    reports: dict[int, FiledReport] = field(default_factory=dict)
    submits: int = 0
    uploads: int = 0
    refused_credentials: int = 0
    fail_next: dict[str, int] = field(default_factory=dict)  # path -> 500s to give
    drop_submit_answer: bool = False  # make the report, then close without answering
    stop_after_submit: bool = False  # answer /submit, then stop serving
    hang_submit: threading.Event | None = None  # /submit makes the report, then waits for it
    hang_upload: threading.Event | None = None  # /upload waits until this is set
    xsd: bytes = b""
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(7_000_001))

    def filed(self) -> list[FiledReport]:
        with self.lock:
            return [r for r in self.reports.values() if r.finished]


def _answer(code: int, description: str, root: str = "reportResponse", **fields: str) -> bytes:
    extra = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root}><responseCode>{code}</responseCode>'
        f"<responseDescription>{description}</responseDescription>{extra}</{root}>"
    ).encode()


def _handler(state: Ncmec, stop: callable) -> type[BaseHTTPRequestHandler]:  # type: ignore[valid-type]
    expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, kind: str = "application/xml") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == expected:
                return True
            with state.lock:
                state.refused_credentials += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="ispws"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def _failing(self, path: str) -> bool:
            with state.lock:
                left = state.fail_next.get(path, 0)
                if left:
                    state.fail_next[path] = left - 1
            if left:
                self._send(500, b"")
            return bool(left)

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path == "/status":
                self._send(200, _answer(0, "Success"))
            elif self.path == "/xsd":
                self._send(200, state.xsd, "text/xml")
            else:
                self._send(404, b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if not self._authorised():
                return
            path = self.path
            if self._failing(path):
                return
            route = {
                "/submit": self._submit,
                "/upload": self._upload,
                "/fileinfo": self._fileinfo,
                "/finish": self._finish,
                "/retract": self._retract,
            }.get(path)
            if route is None:
                self._send(404, b"")
                return
            route(body)

        def _document(self, body: bytes, root: str) -> etree._Element | None:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            try:
                tree = etree.fromstring(body, parser=parser)
            except etree.XMLSyntaxError:
                self._send(200, _answer(4100, "Submitted XML is malformed"))
                return None
            found = problems(tree) if tree.tag == root else [f"the root is not <{root}>"]
            if found:
                self._send(
                    200, _answer(4100, "Submitted XML failed validation: " + "; ".join(found))
                )
                return None
            return tree

        def _submit(self, body: bytes) -> None:
            if self._document(body, "report") is None:
                return
            with state.lock:
                state.submits += 1
                report_id = next(state._ids)
                state.reports[report_id] = FiledReport(xml=body)
            if state.hang_submit is not None:
                state.hang_submit.wait()
            if state.drop_submit_answer:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(200, _answer(0, "Success", reportId=str(report_id)))
            if state.stop_after_submit:
                state.stop_after_submit = False
                threading.Thread(target=stop, daemon=True).start()

        def _open(self, raw: str | None) -> FiledReport | None:
            report = state.reports.get(int(raw)) if raw and raw.isdigit() else None
            if report is None or report.finished or report.retracted:
                self._send(200, _answer(4000, "The report is unknown or closed"))
                return None
            return report

        def _upload(self, body: bytes) -> None:
            if state.hang_upload is not None:
                state.hang_upload.wait()
            head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            parts = {
                p.get_param("name", header="content-disposition"): p for p in message.iter_parts()
            }
            if "id" not in parts or "file" not in parts:
                self._send(200, _answer(4000, "id and file are required"))
                return
            report = self._open(parts["id"].get_content().strip())
            if report is None:
                return
            data = parts["file"].get_payload(decode=True) or b""
            file_id = hashlib.sha1(data + str(len(report.files)).encode()).hexdigest()[:16]
            md5 = hashlib.md5(data).hexdigest()
            with state.lock:
                state.uploads += 1
                report.files[file_id] = FiledFile(
                    name=parts["file"].get_filename() or "", md5=md5, size=len(data)
                )
            self._send(200, _answer(0, "Success", fileId=file_id, hash=md5))

        def _fileinfo(self, body: bytes) -> None:
            tree = self._document(body, "fileDetails")
            if tree is None:
                return
            report = self._open(tree.findtext("reportId"))
            if report is None:
                return
            file = report.files.get(tree.findtext("fileId") or "")
            if file is None:
                self._send(200, _answer(4000, "The file is not of this report"))
                return
            file.details = body
            self._send(200, _answer(0, "Success"))

        def _form_id(self, body: bytes) -> FiledReport | None:
            values = urllib.parse.parse_qs(body.decode())
            self._report_id = (values.get("id") or [""])[0]
            return self._open(self._report_id)

        def _finish(self, body: bytes) -> None:
            report = self._form_id(body)
            if report is None:
                return
            report.finished = True
            files = "".join(f"<fileId>{f}</fileId>" for f in report.files)
            self._send(
                200,
                _answer(0, "Success", "reportDoneResponse", reportId=self._report_id, files=files),
            )

        def _retract(self, body: bytes) -> None:
            report = self._form_id(body)
            if report is None:
                return
            report.retracted = True
            self._send(200, _answer(0, "Success"))

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def ncmec_server() -> Iterator[NcmecControl]:
    state = Ncmec(
        xsd=resources.files("takedown.authorities").joinpath("cybertipline.xsd").read_bytes()
    )
    control = NcmecControl(state)
    control.start()
    try:
        yield control
    finally:
        control.stop()


class NcmecControl:
    """The server (``state``), which a test may stop and start again on the same port."""

    def __init__(self, state: Ncmec) -> None:
        self.state = state
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return self.state.url

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self.state, self.stop))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.state.url = f"http://127.0.0.1:{self.port}"
        self.state.stopped.clear()
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self.state.stopped.set()
