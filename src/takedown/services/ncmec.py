"""The client of NCMEC's CyberTipline Reporting API (``authorities.Channel``).

Every request carries HTTP Basic credentials from ``TAKEDOWN_NCMEC_USERNAME`` and
``TAKEDOWN_NCMEC_PASSWORD``, built once and never logged nor put in an error. Answers are XML:
``<reportResponse>`` (or ``<reportDoneResponse>`` from ``/finish``) with a ``responseCode``
(0 is success) and a ``responseDescription``. How an answer maps to the filer's errors:

- ``responseCode`` other than 0, an HTTP 4xx, or HTTP 401/403 (the credentials): the step was
  refused and made nothing (``ChannelRefused``);
- an HTTP 5xx, a time-out, a dropped connection or an answer that is not NCMEC's XML: the
  outcome is not known (``ChannelUnavailable``); a refused connection surely sent nothing
  (``sent=False``).
"""

from __future__ import annotations

import base64
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from lxml import etree

from takedown import outbound
from takedown.authorities.filing import ChannelRefused, ChannelUnavailable, Uploaded

log = logging.getLogger("takedown.ncmec")

MAX_ANSWER = 1 << 20
KNOWN_CODES = {4100: "the XML failed NCMEC's validation"}


@dataclass(frozen=True)
class NcmecSettings:
    url: str  # e.g. https://exttest.cybertip.org/ispws (test) or https://report.cybertip.org/ispws
    username: str = field(repr=False)
    password: str = field(repr=False)
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class Answer:
    code: int
    description: str
    fields: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


def parse_answer(body: bytes) -> Answer:
    """NCMEC's XML answer; raises ``ValueError`` for anything else."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(body, parser=parser)
    values: dict[str, list[str]] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and node is not root and len(node) == 0:
            values.setdefault(node.tag, []).append((node.text or "").strip())
    code = values.get("responseCode")
    if not code:
        raise ValueError("no responseCode in the answer")
    return Answer(
        code=int(code[0]), description=(values.get("responseDescription") or [""])[0], fields=values
    )


class NcmecClient:
    def __init__(self, settings: NcmecSettings) -> None:
        self.settings = settings
        token = f"{settings.username}:{settings.password}".encode()
        self._authorization = "Basic " + base64.b64encode(token).decode()

    def __repr__(self) -> str:
        return f"NcmecClient({self.settings.url!r})"

    def _request(
        self, path: str, *, body: bytes | None, content_type: str | None, step: str
    ) -> bytes:
        url = self.settings.url.rstrip("/") + path
        headers = {"Authorization": self._authorization, "Accept": "application/xml"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            url, data=body, method="GET" if body is None else "POST", headers=headers
        )
        try:
            with outbound.urlopen(request, timeout=self.settings.timeout_seconds) as answer:
                data: bytes = answer.read(MAX_ANSWER)
                return data
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise ChannelRefused(
                    f"NCMEC answered {step} with a redirect (HTTP {exc.code}), which takedown "
                    "never follows (it would send the credentials on): check TAKEDOWN_NCMEC_URL",
                    code=exc.code,
                ) from None
            if exc.code in (401, 403):
                raise ChannelRefused(
                    f"NCMEC refused the credentials for {step} (HTTP {exc.code}): check "
                    "TAKEDOWN_NCMEC_USERNAME and TAKEDOWN_NCMEC_PASSWORD",
                    code=exc.code,
                ) from None
            if exc.code >= 500:
                raise ChannelUnavailable(f"NCMEC answered HTTP {exc.code} to {step}") from None
            detail = _describe(exc.read(MAX_ANSWER))
            raise ChannelRefused(
                f"NCMEC refused {step} (HTTP {exc.code}){detail}", code=exc.code
            ) from None
        except urllib.error.URLError as exc:
            refused = isinstance(exc.reason, ConnectionRefusedError)
            raise ChannelUnavailable(
                f"NCMEC could not be reached for {step}: {exc.reason}", sent=not refused
            ) from None
        except TimeoutError:
            raise ChannelUnavailable(f"NCMEC did not answer {step} in time") from None
        except OSError as exc:
            raise ChannelUnavailable(
                f"the connection to NCMEC failed during {step}: {exc}"
            ) from None

    def _call(self, path: str, *, body: bytes, content_type: str, step: str) -> Answer:
        raw = self._request(path, body=body, content_type=content_type, step=step)
        try:
            answer = parse_answer(raw)
        except (ValueError, etree.XMLSyntaxError):
            raise ChannelUnavailable(f"NCMEC's answer to {step} was not its XML") from None
        if answer.code != 0:
            meaning = KNOWN_CODES.get(answer.code, "refused")
            raise ChannelRefused(
                f"NCMEC refused {step}: {meaning} (code {answer.code}: {answer.description})",
                code=answer.code,
            )
        return answer

    def status(self) -> None:
        """Check the address and the credentials (``GET /status``)."""
        raw = self._request("/status", body=None, content_type=None, step="/status")
        try:
            answer = parse_answer(raw)
        except (ValueError, etree.XMLSyntaxError):
            raise ChannelUnavailable("NCMEC's answer to /status was not its XML") from None
        if answer.code != 0:
            raise ChannelRefused(f"NCMEC's /status answered code {answer.code}", code=answer.code)

    def schema(self) -> bytes | None:
        """NCMEC's current schema (``GET /xsd``)."""
        return self._request("/xsd", body=None, content_type=None, step="/xsd")

    def submit(self, report: bytes) -> int:
        answer = self._call(
            "/submit", body=report, content_type="text/xml; charset=utf-8", step="/submit"
        )
        report_id = answer.one("reportId")
        if not report_id or not report_id.isdigit():
            raise ChannelUnavailable("NCMEC's answer to /submit had no report id")
        return int(report_id)

    def upload(self, report_id: int, file_name: str, data: bytes) -> Uploaded:
        boundary = "takedown-" + secrets.token_hex(16)
        body, content_type = _multipart(boundary, str(report_id), file_name, data)
        answer = self._call("/upload", body=body, content_type=content_type, step="/upload")
        file_id = answer.one("fileId")
        if not file_id:
            raise ChannelUnavailable("NCMEC's answer to /upload had no file id")
        return Uploaded(file_id=file_id, md5=answer.one("hash"))

    def file_info(self, details: bytes) -> None:
        self._call(
            "/fileinfo", body=details, content_type="text/xml; charset=utf-8", step="/fileinfo"
        )

    def _form(self, path: str, report_id: int) -> Answer:
        body = urllib.parse.urlencode({"id": str(report_id)}).encode()
        return self._call(
            path, body=body, content_type="application/x-www-form-urlencoded", step=path
        )

    def finish(self, report_id: int) -> None:
        self._form("/finish", report_id)

    def retract(self, report_id: int) -> None:
        self._form("/retract", report_id)


def _describe(body: bytes) -> str:
    try:
        answer = parse_answer(body)
    except (ValueError, etree.XMLSyntaxError):
        return ""
    return f": code {answer.code}: {answer.description}"


def _multipart(boundary: str, report_id: str, file_name: str, data: bytes) -> tuple[bytes, str]:
    safe_name = file_name.replace('"', "").replace("\r", "").replace("\n", "") or "file"
    field = f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{report_id}\r\n'
    parts = [
        field.encode(),
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{safe_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + data
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
