"""Media for review, with no unblurred path.

takedown keeps no copy of the platform's media: it fetches an item on demand from
``TAKEDOWN_PLATFORM_MEDIA_URL`` (``{content_id}`` replaced), signed with the shared secret
(``identity.signatures``; a GET signs its method and path); 200 brings the bytes, 404 says the
platform no longer has them. The console only ever receives *renditions*: decoded by the
safe decoder that scanning uses, scaled down, grayscale and blurred on the server (a video:
blurred key frames, never its sound). The original bytes of one item go to one reviewer only
after they ask (``reveal``): the reveal is checked (who may see the case, their daily cap),
counted, audited, and answered with a token that opens that item, for that session, for
``REVEAL_SECONDS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from takedown import outbound
from takedown.cases import Case, Category, Reviewer, case_number
from takedown.identity import (
    SIGNATURE_HEADER,
    Permission,
    Principal,
    User,
    require,
    sign,
    signed_payload,
)
from takedown.media import MediaError, blurred, image_format, key_frames, rendition
from takedown.services import audit
from takedown.services.errors import Busy, Conflict, InvalidInput, NotFound
from takedown.services.platform_links import is_unresolved
from takedown.store.uow import UnitOfWork

REVEAL_SECONDS = 120
FETCH_TIMEOUT = 10.0
MAX_MEDIA_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class MediaSettings:
    url_template: str | None
    secret: str | None
    blur_radius: int = 24  # for categories ``blur_by_category`` does not name
    blur_by_category: dict[Category, int] = field(default_factory=dict)
    grayscale_categories: frozenset[Category] = frozenset(Category)
    warning_categories: frozenset[Category] = frozenset({Category.csam, Category.ncii})
    daily_cap: int = 200


@dataclass(frozen=True)
class View:
    """How one reviewer sees one case's media before a reveal."""

    blur_radius: int
    grayscale: bool
    warning: bool


def view_for(settings: MediaSettings, category: Category, user: User | None) -> View:
    """The settings for ``category``, made safer (never less so) by the reviewer's own
    choices: more blur, grayscale always, a warning screen always."""
    radius = settings.blur_by_category.get(category, settings.blur_radius)
    grayscale = category in settings.grayscale_categories
    warning = category in settings.warning_categories
    if user is not None:
        radius = max(radius, user.blur_radius or 0)
        grayscale = grayscale or user.always_grayscale
        warning = warning or user.always_warn
    return View(blur_radius=radius, grayscale=grayscale, warning=warning)


class MediaGone(NotFound):
    """The platform no longer has the item (its 404)."""


class LinkUnresolved(NotFound):
    """The item is a reported link the platform did not match to its content
    (``services.platform_links``): there is nothing to fetch, and nothing is gone."""


class CapReached(Conflict):
    """The reviewer has revealed as many originals today as their cap allows."""

    code = "reveal_cap"


def fetch(settings: MediaSettings, content_id: str, *, now: float) -> tuple[bytes, str]:
    """The item's bytes and content type from the platform. Raises ``LinkUnresolved`` for a
    link the platform did not match to its content, ``MediaGone`` on its 404,
    ``Busy`` when it cannot be reached or answers otherwise, ``InvalidInput`` when no media
    address is set."""
    if is_unresolved(content_id):
        raise LinkUnresolved(
            "only a link was reported, and the platform has not matched it to its content: "
            "open the link, or ask the platform"
        )
    if not settings.url_template or not settings.secret:
        raise InvalidInput(
            "no platform media address is set (TAKEDOWN_PLATFORM_MEDIA_URL and "
            "TAKEDOWN_PLATFORM_WEBHOOK_SECRET)"
        )
    url = settings.url_template.replace("{content_id}", urllib.parse.quote(content_id, safe=""))
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    signature = sign(settings.secret, signed_payload("GET", target, b""), now=now)
    request = urllib.request.Request(  # noqa: S310 - the operator's configured https/http URL
        url, method="GET", headers={SIGNATURE_HEADER: signature}
    )
    try:
        with outbound.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            data = response.read(MAX_MEDIA_BYTES + 1)
            kind = response.headers.get("Content-Type", "application/octet-stream")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise MediaGone(f"the platform no longer has {content_id!r}") from None
        raise Busy(f"the platform answered {exc.code} for the media", retry_after=30) from None
    except (urllib.error.URLError, TimeoutError, OSError):
        raise Busy("the platform's media server cannot be reached", retry_after=30) from None
    if len(data) > MAX_MEDIA_BYTES:
        raise Busy("the platform sent more than the media limit", retry_after=30)
    return data, kind


def renditions(
    data: bytes, *, media_kind: str | None, blur_radius: int, grayscale: bool
) -> list[bytes]:
    """Blurred JPEGs of an item: one for an image, a few key frames for a video. Raises a
    ``MediaError`` for media that does not decode."""
    if media_kind == "video":
        return [blurred(frame, blur_radius, grayscale, 512) for frame in key_frames(data)]
    try:
        return [rendition(data, blur_radius=blur_radius, grayscale=grayscale)]
    except MediaError:
        if media_kind is not None:
            raise
        return [blurred(frame, blur_radius, grayscale, 512) for frame in key_frames(data)]


class Renditions:
    """Blurred renditions made lately, kept in memory by item and view, so a case page that
    asks for an item's frames one by one (and the next reviewer on the same item) does not
    fetch and decode an original of up to ``MAX_MEDIA_BYTES`` for each.

    Bounded: at most ``max_bytes`` of renditions (the least recently used go first), each for
    ``ttl`` seconds (the platform may have removed the item since); one fetch per item at a
    time (the others asking for it wait for that one); at most ``fetches`` originals held at
    once, whatever the items (past that, ``Busy``). Only renditions are kept, never an
    original, and only after the caller's access was checked: a hit grants nothing."""

    def __init__(
        self, *, max_bytes: int = 32 * 1024 * 1024, ttl: float = 600.0, fetches: int = 4
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._held = 0
        self._entries: OrderedDict[tuple[object, ...], tuple[float, list[bytes]]] = OrderedDict()
        self._making: dict[tuple[object, ...], threading.Event] = {}
        self._lock = threading.Lock()
        self._fetches = threading.BoundedSemaphore(fetches)

    def get(
        self, settings: MediaSettings, content_id: str, access: ItemAccess, *, now: float
    ) -> list[bytes]:
        """The item's renditions for ``access.view``; raises as ``fetch`` and ``renditions``
        do (nothing is kept then)."""
        key = (content_id, access.media_kind, access.view.blur_radius, access.view.grayscale)
        while True:
            with self._lock:
                found = self._entries.get(key)
                if found is not None and found[0] > now:
                    self._entries.move_to_end(key)
                    return found[1]
                waiting = self._making.get(key)
                if waiting is None:
                    self._making[key] = threading.Event()
                    break
            waiting.wait(FETCH_TIMEOUT * 3)
        try:
            shown = self._make(settings, content_id, access, now=now)
            with self._lock:
                self._keep(key, now + self.ttl, shown)
            return shown
        finally:
            with self._lock:
                self._making.pop(key).set()

    def _make(
        self, settings: MediaSettings, content_id: str, access: ItemAccess, *, now: float
    ) -> list[bytes]:
        if not self._fetches.acquire(timeout=FETCH_TIMEOUT):
            raise Busy("the server is fetching many originals; try again shortly", retry_after=5)
        try:
            data, _ = fetch(settings, content_id, now=now)
            return renditions(
                data,
                media_kind=access.media_kind,
                blur_radius=access.view.blur_radius,
                grayscale=access.view.grayscale,
            )
        finally:
            self._fetches.release()

    def _keep(self, key: tuple[object, ...], until: float, shown: list[bytes]) -> None:
        size = sum(len(b) for b in shown)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._held -= sum(len(b) for b in old[1])
        self._entries[key] = (until, shown)
        self._held += size
        while self._held > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._held -= sum(len(b) for b in dropped)

    @property
    def held_bytes(self) -> int:
        return self._held


@dataclass(frozen=True)
class ItemAccess:
    reviewer: Reviewer
    media_kind: str | None
    view: View


def check_item(
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    content_id: str,
    settings: MediaSettings,
) -> ItemAccess:
    """That ``actor`` may see the case and the item is on it; the item's media kind, and how
    this reviewer sees it. Raises ``NotFound`` otherwise (in an entered unit of work)."""
    case, reviewer = visible_case(uow, actor, case_id)
    if content_id not in {i.content_id for i in uow.cases.items(case_id)}:
        raise NotFound(f"{content_id!r} is not on case {case_number(case_id)}")
    item = uow.content.get(content_id)
    user = uow.users.get(reviewer.user_id) if reviewer.user_id else None
    return ItemAccess(
        reviewer=reviewer,
        media_kind=item.media_kind if item else None,
        view=view_for(settings, case.category, user),
    )


def visible_case(uow: UnitOfWork, actor: Principal, case_id: int) -> tuple[Case, Reviewer]:
    """The case, when ``actor`` may see it. ``NotFound`` alike for a case that does not exist
    and one hidden from them: which it is must not be told by any answer, so check this before
    anything else about the case (its items, their number)."""
    require(actor, Permission.cases_read)
    reviewer = Reviewer.of(actor)
    case = uow.cases.get(case_id)
    if case is None or not case.may_see(reviewer):
        raise NotFound(f"no case {case_number(case_id)}")
    return case, reviewer


def reveals_today(uow: UnitOfWork, user_id: int, now: datetime) -> int:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return uow.review.reveals_since(user_id, day)


def reveal(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    content_id: str,
    now: datetime,
    settings: MediaSettings,
    key: bytes,
) -> str:
    """A reviewer asks for one item's original: checked, counted, audited; returns the token
    that opens it for this session for ``REVEAL_SECONDS``. Raises ``NotFound`` or
    ``CapReached``."""
    with uow:
        reviewer = check_item(uow, actor, case_id, content_id, settings).reviewer
        user = uow.users.get(reviewer.user_id)
        cap = user.daily_reveal_cap if user and user.daily_reveal_cap is not None else None
        cap = settings.daily_cap if cap is None else cap
        count = reveals_today(uow, reviewer.user_id, now)
        if count >= cap:
            raise CapReached(
                f"you have revealed {count} items today, your daily cap; a lead can raise it"
            )
        uow.review.add_reveal(
            user_id=reviewer.user_id, case_id=case_id, content_id=content_id, at=now
        )
        audit.record(
            uow,
            actor=actor,
            action="media.revealed",
            target_type="case",
            target_id=case_id,
            details={"content_id": content_id, "today": count + 1},
            at=now,
        )
        uow.commit()
    return reveal_token(
        key, actor, case_id, content_id, expires=int(now.timestamp()) + REVEAL_SECONDS
    )


def _binding(actor: Principal) -> str:
    return f"{actor.kind}:{actor.credential_id}"


def reveal_token(
    key: bytes, actor: Principal, case_id: int, content_id: str, *, expires: int
) -> str:
    item = base64.urlsafe_b64encode(content_id.encode()).decode().rstrip("=")
    body = f"{case_id}.{item}.{expires}"
    mac = hmac.new(key, f"reveal|{_binding(actor)}|{body}".encode(), hashlib.sha256)
    return f"{body}.{mac.hexdigest()[:32]}"


def open_token(key: bytes, actor: Principal, token: str, *, now: float) -> tuple[int, str]:
    """The (case, item) a reveal token opens for ``actor`` now. Raises ``NotFound`` for a
    token that is not this session's, is altered, or has expired."""
    try:
        case_part, item, expires, mac = token.split(".")
        case_id, until = int(case_part), int(expires)
        content_id = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4)).decode()
    except ValueError:
        raise NotFound("this reveal link is not valid") from None
    expected = reveal_token(key, actor, case_id, content_id, expires=until).rsplit(".", 1)[1]
    if not hmac.compare_digest(expected, mac) or until < now:
        raise NotFound("this reveal link is not valid, or has expired; reveal the item again")
    return case_id, content_id


_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def original_type(data: bytes, media_kind: str | None) -> str:
    """The type to send an original as, from its own bytes (never the platform's word)."""
    found = image_format(data)
    if found is not None:
        return _MIME.get(found, "application/octet-stream")
    return "video/mp4" if media_kind == "video" else "application/octet-stream"
