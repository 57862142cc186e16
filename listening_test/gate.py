"""The server's front door: which requests reach the listener app, the admin app and the stimulus route.

An ASGI middleware in front of everything:
- a request reaches a Gradio app only on the routes its page and Gradio's event API use (the page,
  its assets, the event queue); every other Gradio route (file upload and download, `/monitoring`,
  `/gradio_api/info`, proxies, run history, ...) answers 404 before Gradio sees it;
- a request with a body must say its size (`Content-Length`, else 411) and stay under `max_body`
  (else 413);
- `POST /admin/login` is refused with 429 and `Retry-After` while the client's address is locked out
  (see `throttle.LoginThrottle`), and its outcome is counted.
"""

from __future__ import annotations

import re
from typing import Any

from codecbench.listening_test.throttle import LoginThrottle

MAX_BODY_BYTES = 4 << 20  # a trial's submission with the most events allowed (20000) stays far below this
AUDIO_ROUTE = re.compile(r"/mushra/audio/[\w-]+")
PAGE_ROUTES = {  # paths inside one Gradio app's mount
    "GET": re.compile(r"/?|/theme\.css|/favicon\.ico|/robots\.txt|/manifest\.json|/config/?"
                      r"|/(assets|static)/[\w./-]+|/gradio_api/queue/data|/gradio_api/heartbeat/[\w-]+|/gradio_api/app_id"
                      r"|/gradio_api/call/\w+/[\w-]+"),
    "POST": re.compile(r"/gradio_api/queue/join|/gradio_api/call/\w+|/gradio_api/cancel"),
}
ADMIN_ROUTES = {"GET": re.compile(r"/logout"), "POST": re.compile(r"/login/?")}


class Gate:
    """ASGI middleware: route allow-list, body size cap and admin login throttle.

    Args:
        app: the server's ASGI app.
        admin_path: where the admin app is mounted.
        throttle: counts failed admin logins.
        max_body: the largest request body accepted, bytes.
    """

    def __init__(self, app: Any, admin_path: str, throttle: LoginThrottle, max_body: int = MAX_BODY_BYTES) -> None:
        self.app, self.admin_path, self.throttle, self.max_body = app, admin_path.rstrip("/"), throttle, max_body

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
        if not self.allowed(method, path):
            return await _respond(send, 404, "Not Found")
        if method in ("POST", "PUT", "PATCH"):
            length = dict(scope["headers"]).get(b"content-length")
            if length is None or not length.isdigit():
                return await _respond(send, 411, "Length Required")
            if int(length) > self.max_body:
                return await _respond(send, 413, "Request Too Large")
        if method == "POST" and path.rstrip("/") == self.admin_path + "/login":
            return await self._login(scope, receive, send)
        await self.app(scope, receive, send)

    async def _login(self, scope: dict, receive: Any, send: Any) -> None:
        address = (scope.get("client") or ("unknown",))[0]
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


async def _respond(send: Any, status: int, text: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
