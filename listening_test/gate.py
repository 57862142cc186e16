"""The server's front door: which requests reach the listener app, the admin app and the stimulus route.

An ASGI middleware in front of everything:
- a request reaches a Gradio app only on the routes its page and Gradio's event API use (the page,
  its assets, the event queue); every other Gradio route (file upload and download, `/monitoring`,
  `/gradio_api/info`, proxies, run history, ...) answers 404 before Gradio sees it;
- a request with a body must say its size (`Content-Length`, else 411) and stay under `max_body`
  (else 413);
- `POST /admin/login` is refused with 429 and `Retry-After` while the client's address is locked out
  (see `throttle.LoginThrottle`), and its outcome is counted;
- an event API call names one of the app's own API names (`apis`), else 404 (Gradio would answer 500
  and log a traceback);
- an event's JSON may not hold a Gradio file object (`{"path": ..., "meta": {"_type": "gradio.FileData"}}`,
  or anything with a `meta._type` or `path`+`meta`): no route of this server takes files, and Gradio would
  copy the named file (any file the server can read) into its cache and serve it, because an app mounted
  with `mount_gradio_app` never sets `has_launched`, which Gradio's path check requires (400);
- the client's address is the connection's peer, or, when the peer is one of `trusted_proxies`, the
  right-most `X-Forwarded-For` entry that is not a trusted proxy; the resolved address replaces the
  peer in the request scope, so every limit downstream counts it (run uvicorn with `proxy_headers=False`:
  uvicorn would otherwise trust `X-Forwarded-For` from 127.0.0.1, whoever sends it);
- every admin response carries anti-framing headers (`X-Frame-Options: DENY`,
  `Content-Security-Policy: frame-ancestors 'none'`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from codecbench.listening_test.throttle import LoginThrottle

MAX_BODY_BYTES = 4 << 20  # a trial's submission with the most events allowed (5000) stays far below this
AUDIO_ROUTE = re.compile(r"/mushra/audio/[\w-]+")
PAGE_ROUTES = {  # paths inside one Gradio app's mount
    "GET": re.compile(r"/?|/theme\.css|/favicon\.ico|/robots\.txt|/manifest\.json|/config/?"
                      r"|/(assets|static)/[\w./-]+|/gradio_api/queue/data|/gradio_api/heartbeat/[\w-]+"
                      r"|/gradio_api/call/\w+/[\w-]+|/gradio_api/app_id"),  # app_id: Gradio's reconnect after a restart
    "POST": re.compile(r"/gradio_api/queue/join|/gradio_api/call/\w+|/gradio_api/cancel"),
}
ADMIN_ROUTES = {"GET": re.compile(r"/logout"), "POST": re.compile(r"/login/?")}
API_CALL = re.compile(r"/gradio_api/call/(\w+)(/[\w-]+)?")
EVENT_ROUTES = re.compile(r"/gradio_api/(queue/join|call/\w+)")
NO_FRAMING = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]
FILE_OBJECT = "event data may not hold file objects: this server takes no files"


def holds_file_object(value: Any) -> bool:
    """Whether decoded JSON holds anything Gradio could take for a file object (at any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            if (isinstance(meta, dict) and "_type" in meta) or ("path" in item and "meta" in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def client_address(scope: dict, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer's, or the right-most untrusted `X-Forwarded-For` entry when the peer
    is a trusted proxy (headers from any other peer are ignored: they are the client's own words)."""
    peer = (scope.get("client") or ("unknown",))[0]
    if peer not in trusted_proxies:
        return peer
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer


class Gate:
    """ASGI middleware: route allow-list, body size cap and checks, admin login throttle, client address.

    Args:
        app: the server's ASGI app.
        admin_path: where the admin app is mounted.
        throttle: counts failed admin logins.
        max_body: the largest request body accepted, bytes.
        apis: per mount path ('' for the listener app, `admin_path`), the API names its events may be
            called by; None: any name.
        trusted_proxies: addresses of reverse proxies whose `X-Forwarded-For` is believed.
    """

    def __init__(self, app: Any, admin_path: str, throttle: LoginThrottle, max_body: int = MAX_BODY_BYTES,
                 apis: Mapping[str, Iterable[str]] | None = None, trusted_proxies: Iterable[str] = ()) -> None:
        self.app, self.admin_path, self.throttle, self.max_body = app, admin_path.rstrip("/"), throttle, max_body
        self.apis = None if apis is None else {mount.rstrip("/"): frozenset(names) for mount, names in apis.items()}
        self.trusted_proxies = frozenset(trusted_proxies)

    def _mount(self, path: str) -> tuple[str, str]:
        """(the app's mount path, the path inside it)."""
        if path == self.admin_path or path.startswith(self.admin_path + "/"):
            return self.admin_path, path[len(self.admin_path):]
        return "", path

    def known_api(self, path: str) -> bool:
        """Whether an event API call names an API of its app (True for any other path)."""
        mount, inside = self._mount(path)
        call = API_CALL.fullmatch(inside)
        return call is None or self.apis is None or call.group(1) in self.apis.get(mount, ())

    def allowed(self, method: str, path: str) -> bool:
        method = "GET" if method == "HEAD" else method
        if ".." in path:
            return False
        if AUDIO_ROUTE.fullmatch(path):
            return method == "GET"
        if path == self.admin_path or path.startswith(self.admin_path + "/"):
            inside = path[len(self.admin_path):]
            return any(r.fullmatch(inside) for r in (PAGE_ROUTES.get(method), ADMIN_ROUTES.get(method)) if r)
        return bool(PAGE_ROUTES.get(method) and PAGE_ROUTES[method].fullmatch(path))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await send({"type": "websocket.close", "code": 1008})
        method, path = scope["method"], scope["path"]
        address = client_address(scope, self.trusted_proxies)
        scope = {**scope, "client": (address, (scope.get("client") or (None, 0))[1])}
        if self._mount(path)[0]:
            send = _with_headers(send, NO_FRAMING)
        if not self.allowed(method, path) or not self.known_api(path):
            return await _respond(send, 404, "Not Found")
        if method in ("POST", "PUT", "PATCH"):
            length = dict(scope["headers"]).get(b"content-length")
            if length is None or not length.isdigit():
                return await _respond(send, 411, "Length Required")
            if int(length) > self.max_body:
                return await _respond(send, 413, "Request Too Large")
        if method == "POST" and EVENT_ROUTES.fullmatch(self._mount(path)[1]):
            body = await _read_body(receive, self.max_body)
            try:
                refused = holds_file_object(json.loads(body))
            except (ValueError, RecursionError):
                return await _respond(send, 400, "event data must be JSON")
            if refused:
                return await _respond(send, 400, FILE_OBJECT)
            receive = _replay(body, receive)
        if method == "POST" and path.rstrip("/") == self.admin_path + "/login":
            return await self._login(scope, receive, send, address)
        await self.app(scope, receive, send)

    async def _login(self, scope: dict, receive: Any, send: Any, address: str) -> None:
        wait = self.throttle.retry_after(address)
        if wait > 0:
            return await _respond(send, 429, "Too many failed logins: try again later",
                                  [(b"retry-after", str(int(wait) + 1).encode())])
        status = []

        async def watched(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watched)
        if status:
            self.throttle.record(address, status[0] == 200)


async def _read_body(receive: Any, limit: int) -> bytes:
    """The whole request body (at most `limit` bytes are kept: Content-Length was checked against it)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands out `body` once, then waits on the connection (for its disconnect)."""
    sent = False

    async def replayed() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replayed


def _with_headers(send: Any, headers: list[tuple[bytes, bytes]]) -> Any:
    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)
    return sending


async def _respond(send: Any, status: int, text: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
