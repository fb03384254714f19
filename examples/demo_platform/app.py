"""A small social app to try takedown with: posts with images, reposts, a report button, and
an admin view of the actions takedown sent. It is what a platform does to integrate:

- every upload is scanned through takedown's ``POST /v1/scan`` first; a ``block`` verdict
  refuses it;
- every repost is registered with ``POST /v1/content`` (its parent), so takedown knows the
  family;
- the report button files ``POST /v1/reports`` and shows the reporter their status link;
- ``GET /media/{content_id}`` serves takedown's review fetch, only when the request is signed
  with the shared secret (``Takedown-Signature``);
- ``POST /takedown/actions`` receives takedown's actions, signed the same way, and obeys them:
  a removed post disappears, a suspended account can no longer post.

Run by ``make demo`` beside takedown. Alone: ``python examples/demo_platform/app.py`` with
``DEMO_TAKEDOWN_URL``, ``DEMO_API_KEY`` (scopes scan and report), ``DEMO_SECRET`` and
``DEMO_PORT`` set. Nothing here is takedown's own code: it only speaks takedown's HTTP API.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import secrets
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

USERS = ("alice", "bob", "carol", "mallory")
TOLERANCE = 300  # seconds a signature's timestamp may be off


@dataclass(frozen=True)
class Config:
    takedown_url: str
    api_key: str
    secret: str
    data_dir: Path

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            takedown_url=os.environ.get("DEMO_TAKEDOWN_URL", "http://127.0.0.1:8000"),
            api_key=os.environ["DEMO_API_KEY"],
            secret=os.environ["DEMO_SECRET"],
            data_dir=Path(os.environ.get("DEMO_DATA_DIR", "./data/demo-platform")),
        )


def signed(header: str | None, body: bytes, secret: str) -> bool:
    """Whether ``Takedown-Signature: t=…,v1=…`` signs ``body`` with ``secret``, recently
    (the check every platform makes; see takedown's docs/integrating.md)."""
    fields = [part.strip().partition("=") for part in (header or "").split(",")]
    t = next((v for k, _, v in fields if k == "t"), "")
    macs = [v for k, _, v in fields if k == "v1"]
    if not t.isdigit() or abs(time.time() - int(t)) > TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, mac) for mac in macs)


class Store:
    """Posts, accounts and the actions received, in a SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS posts (
                    id TEXT PRIMARY KEY, account TEXT, parent TEXT, caption TEXT,
                    image BLOB, state TEXT DEFAULT 'visible', at REAL);
                CREATE TABLE IF NOT EXISTS accounts (
                    name TEXT PRIMARY KEY, suspended INTEGER DEFAULT 0, strikes INTEGER DEFAULT 0);
                CREATE TABLE IF NOT EXISTS actions (
                    action_id TEXT PRIMARY KEY, type TEXT, target TEXT, case_number TEXT,
                    reason TEXT, at REAL);
                """
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO accounts (name) VALUES (?)", [(u,) for u in USERS]
            )
            self._db.commit()

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def write(self, sql: str, *args: Any) -> None:
        with self._lock:
            self._db.execute(sql, args)
            self._db.commit()


class Takedown:
    """takedown's API, as this platform calls it (``urllib``, no client library)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def _call(self, method: str, path: str, body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the configured takedown address
            self.config.takedown_url + path,
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {self.config.api_key}",
                "Content-Type": content_type,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as exc:
            return {"error": json.loads(exc.read() or b"{}").get("error", {"code": exc.code})}

    def scan(self, content_id: str, account: str, image: bytes) -> dict[str, Any]:
        boundary = secrets.token_hex(12)
        parts = [
            ('name="content_id"', content_id.encode()),
            ('name="account_id"', account.encode()),
            ('name="media"; filename="upload"', image),
        ]
        body = (
            b"".join(
                f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode()
                + value
                + b"\r\n"
                for disposition, value in parts
            )
            + f"--{boundary}--\r\n".encode()
        )
        return self._call("POST", "/v1/scan", body, f"multipart/form-data; boundary={boundary}")

    def register_repost(self, content_id: str, account: str, parent: str) -> dict[str, Any]:
        body = {"content_id": content_id, "account_id": account, "parent_content_id": parent}
        return self._call("POST", "/v1/content", json.dumps(body).encode(), "application/json")

    def report(self, content_id: str, category: str, text: str) -> dict[str, Any]:
        body = {
            "content_id": content_id,
            "category": category,
            "reporter_role": "user",
            "description": text,
        }
        return self._call("POST", "/v1/reports", json.dumps(body).encode(), "application/json")


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config.from_env()
    store = Store(config.data_dir / "platform.db")
    takedown = Takedown(config)
    app = FastAPI(title="demo platform", docs_url=None, redoc_url=None)

    def user_of(request: Request) -> str:
        name = request.cookies.get("demo_user", "alice")
        return name if name in USERS else "alice"

    def page(request: Request, body: str, status: int = 200) -> HTMLResponse:
        me = user_of(request)
        options = "".join(
            f'<option value="{u}"{" selected" if u == me else ""}>{u}</option>' for u in USERS
        )
        return HTMLResponse(
            f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Demo platform</title><style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:1.5rem auto;padding:0 1rem}}
.post{{border:1px solid #ccd;border-radius:6px;padding:.75rem;margin:.75rem 0}}
.post img{{max-width:320px;display:block}} .removed{{color:#777}} .bad{{color:#a4161a}}
form.inline{{display:inline}} nav a{{margin-right:1rem}}</style></head><body>
<nav><strong>Demo platform</strong> <a href="/">Feed</a> <a href="/admin">Admin: actions</a>
<form class="inline" method="post" action="/as"><label>You are
<select name="user" onchange="this.form.submit()">{options}</select></label>
<noscript><button>Switch</button></noscript></form></nav>{body}</body></html>""",
            status_code=status,
        )

    def feed_html(message: str = "") -> str:
        posts = store.query(
            "SELECT id, account, parent, caption, state FROM posts ORDER BY at DESC LIMIT 200"
        )
        items = []
        for post_id, account, parent, caption, state in posts:
            label = (
                f"{html.escape(account)} reposted {html.escape(parent)}"
                if parent
                else html.escape(account)
            )
            if state == "removed":
                items.append(
                    f'<div class="post removed" data-post="{post_id}">{html.escape(post_id)} '
                    f"by {label}: removed by the safety team.</div>"
                )
                continue
            items.append(
                f'<div class="post" data-post="{post_id}"><strong>{label}</strong> '
                f"<code>{html.escape(post_id)}</code>"
                f'<p>{html.escape(caption or "")}</p><img src="/view/{post_id}" alt="{html.escape(post_id)}">'
                f'<form class="inline" method="post" action="/posts/{post_id}/repost">'
                f"<button>Repost</button></form> "
                f'<form class="inline" method="post" action="/posts/{post_id}/report">'
                f'<select name="category" aria-label="What is wrong"><option value="csam">'
                f'a child is sexually abused</option><option value="ncii">an intimate image '
                f'shared without consent</option><option value="policy">against the rules'
                f"</option></select> <button>Report</button></form></div>"
            )
        return (
            f"{message}<h1>Post something</h1>"
            '<form method="post" action="/post" enctype="multipart/form-data">'
            '<label>Image <input type="file" name="image" accept="image/*" required></label> '
            '<label>Caption <input type="text" name="caption"></label> <button>Post</button></form>'
            "<h2>Feed</h2>" + ("".join(items) or "<p>Nothing posted yet.</p>")
        )

    @app.get("/", response_class=HTMLResponse)
    def feed(request: Request) -> HTMLResponse:
        return page(request, feed_html())

    @app.post("/as")
    def switch(user: str = Form(...)) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.set_cookie("demo_user", user if user in USERS else "alice")
        return response

    @app.post("/post", response_class=HTMLResponse)
    async def post(
        request: Request, image: UploadFile = File(...), caption: str = Form("")
    ) -> HTMLResponse:
        me = user_of(request)
        if store.query("SELECT suspended FROM accounts WHERE name = ?", me)[0][0]:
            return page(
                request,
                feed_html(f'<p class="bad" role="alert">Your account ({me}) is suspended.</p>'),
                403,
            )
        data = await image.read()
        post_id = f"post-{secrets.token_hex(4)}"
        answer = takedown.scan(post_id, me, data)
        if "error" in answer:
            return page(
                request,
                feed_html(
                    f'<p class="bad" role="alert">takedown refused the upload: {html.escape(str(answer["error"]))}</p>'
                ),
                422,
            )
        if answer.get("verdict") == "block":
            return page(
                request,
                feed_html(
                    '<p class="bad" role="alert">This upload was blocked: it matches content known to break the law or our rules.</p>'
                ),
                403,
            )
        store.write(
            "INSERT INTO posts (id, account, parent, caption, image, at) VALUES (?, ?, NULL, ?, ?, ?)",
            post_id,
            me,
            caption[:200],
            data,
            time.time(),
        )
        return page(request, feed_html(f'<p role="status">Posted {post_id}.</p>'))

    def _image(post_id: str) -> bytes | None:
        seen = set()
        while post_id and post_id not in seen:
            seen.add(post_id)
            rows = store.query("SELECT parent, image FROM posts WHERE id = ?", post_id)
            if not rows:
                return None
            parent, image = rows[0]
            if image is not None:
                return bytes(image)
            post_id = parent
        return None

    @app.post("/posts/{post_id}/repost")
    def repost(request: Request, post_id: str) -> Response:
        me = user_of(request)
        if store.query("SELECT suspended FROM accounts WHERE name = ?", me)[0][0]:
            return page(
                request,
                feed_html('<p class="bad" role="alert">Your account is suspended.</p>'),
                403,
            )
        new_id = f"repost-{secrets.token_hex(4)}"
        takedown.register_repost(new_id, me, post_id)
        store.write(
            "INSERT INTO posts (id, account, parent, caption, image, at) VALUES (?, ?, ?, '', NULL, ?)",
            new_id,
            me,
            post_id,
            time.time(),
        )
        return RedirectResponse("/", status_code=303)

    @app.post("/posts/{post_id}/report", response_class=HTMLResponse)
    def report(request: Request, post_id: str, category: str = Form("policy")) -> HTMLResponse:
        answer = takedown.report(
            post_id, category, f"reported from the demo platform by {user_of(request)}"
        )
        if "error" in answer:
            return page(
                request,
                feed_html(f'<p class="bad" role="alert">{html.escape(str(answer["error"]))}</p>'),
                422,
            )
        link = html.escape(answer["status_url"])
        return page(
            request,
            feed_html(
                f'<p role="status">Thank you. Your report is case {html.escape(answer["case_number"])}. '
                f'Follow it at <a href="{link}">{link}</a>.</p>'
            ),
        )

    @app.get("/view/{post_id}")
    def view(post_id: str) -> Response:
        """The image as the platform's users see it (removed posts show nothing)."""
        rows = store.query("SELECT state FROM posts WHERE id = ?", post_id)
        data = _image(post_id)
        if not rows or rows[0][0] == "removed" or data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    def signed_get(request: Request) -> bool:
        """A body-less request from takedown: signed over ``"GET <path and query as sent>"``."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        target = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        payload = f"GET {target}".encode()
        return signed(request.headers.get("Takedown-Signature"), payload, config.secret)

    @app.get("/takedown/resolve")
    def resolve(request: Request, url: str = "") -> Response:
        """takedown's resolve call: which post a reported link shows (``/view/<post id>`` on
        this site), with its account; 404 for a link that is not one of ours."""
        if not signed_get(request):
            return Response(status_code=401)
        path = urllib.parse.urlsplit(url).path
        post_id = path.removeprefix("/view/") if path.startswith("/view/") else ""
        rows = store.query("SELECT account FROM posts WHERE id = ?", post_id) if post_id else []
        if not rows:
            return Response(status_code=404)
        return JSONResponse({"content_id": post_id, "account_id": rows[0][0]})

    @app.get("/media/{content_id}")
    def media(request: Request, content_id: str) -> Response:
        """takedown's review fetch: only with a valid signature over its method and path (a
        request with no body signs ``"GET <path and query as sent>"``)."""
        if not signed_get(request):
            return Response(status_code=401)
        data = _image(content_id)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    @app.post("/takedown/actions")
    async def actions(request: Request) -> Response:
        body = await request.body()
        if not signed(request.headers.get("Takedown-Signature"), body, config.secret):
            return Response(status_code=401)
        for action in json.loads(body)["actions"]:
            if store.query("SELECT 1 FROM actions WHERE action_id = ?", action["action_id"]):
                continue  # a batch sent again: each action is carried out once
            kind = action["type"]
            target = action.get("content_id") or action.get("account_id") or ""
            if kind == "remove":
                store.write("UPDATE posts SET state = 'removed' WHERE id = ?", target)
            elif kind == "restrict":
                store.write(
                    "UPDATE posts SET state = 'restricted' WHERE id = ? AND state = 'visible'",
                    target,
                )
            elif kind == "restore":
                store.write("UPDATE posts SET state = 'visible' WHERE id = ?", target)
            elif kind == "suspend_account":
                store.write("UPDATE accounts SET suspended = 1 WHERE name = ?", target)
            elif kind == "strike":
                store.write("UPDATE accounts SET strikes = strikes + 1 WHERE name = ?", target)
            store.write(
                "INSERT INTO actions VALUES (?, ?, ?, ?, ?, ?)",
                action["action_id"],
                kind,
                target,
                action.get("case_number", ""),
                action.get("reason", ""),
                time.time(),
            )
        return Response(status_code=204)

    @app.get("/admin", response_class=HTMLResponse)
    def admin(request: Request) -> HTMLResponse:
        rows = store.query(
            "SELECT type, target, case_number, reason FROM actions ORDER BY at DESC LIMIT 500"
        )
        accounts = store.query("SELECT name, suspended, strikes FROM accounts ORDER BY name")
        table = "".join(
            f"<tr><td>{html.escape(t)}</td><td><code>{html.escape(g)}</code></td><td>{html.escape(c)}</td><td>{html.escape(r)}</td></tr>"
            for t, g, c, r in rows
        )
        people = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{'suspended' if s else 'active'}</td><td>{k}</td></tr>"
            for n, s, k in accounts
        )
        return page(
            request,
            f'<h1>Actions received from takedown</h1><table id="actions"><tr><th>Type</th><th>Target</th><th>Case</th><th>Reason</th></tr>{table}</table>'
            f'<h2>Accounts</h2><table id="accounts"><tr><th>Name</th><th>State</th><th>Strikes</th></tr>{people}</table>',
        )

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        create_app(),
        host=os.environ.get("DEMO_HOST", "127.0.0.1"),
        port=int(os.environ.get("DEMO_PORT", "8001")),
        log_level="warning",
    )
