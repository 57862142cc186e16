"""`codecbench mushra serve`: the listener app (Gradio), the password-protected admin page and the stimulus route.

One FastAPI server holds three parts, behind one `gate.Gate` (route allow-list, body cap, login throttle):
- `/mushra/audio/{key}`: stimulus bytes by opaque per-listener key, freshly dithered per key (see
  `dither`) and recorded as served (no file name, no ETag, no caching), so the browser never learns which
  stimulus is the reference, an anchor or which codec, not even by comparing bytes.
- `/admin`: a Gradio app behind Gradio's password login: progress per listener, screening, export.
  Exports travel inside the admin's own Gradio event (CSV text, saved by the page): no file is written,
  and none passes through a Gradio file route.
- `/`: the listener app. Welcome (Gradio components) -> level/headphone check -> training -> test, all
  in one `gr.HTML` element running `player.js`. Every step is one queued Gradio event
  (`api_name="player"`); the database serialises the writes.

Clients only ever see messages written for them: a refused request says what to do, anything else gets
`GENERIC_ERROR`, with the details (and traceback) in the server's log.

Queue settings: every event may run `concurrency` at once (default 8): handlers only touch SQLite,
whose writes are serialised by `BEGIN IMMEDIATE` with a 30 s busy timeout, so a few threads keep reads
overlapping without piling up writers; the queue is unbounded (`max_size=None`) so a class of listeners
pressing Next together is queued, never refused.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the server

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from codecbench.listening_test.analysis import screen_listeners  # noqa: E402
from codecbench.listening_test.gate import MAX_BODY_BYTES, Gate  # noqa: E402
from codecbench.listening_test.store import MushraStore, SubmissionError  # noqa: E402
from codecbench.listening_test.testdef import LOUDNESS_CSV  # noqa: E402
from codecbench.listening_test.throttle import LoginThrottle  # noqa: E402
from codecbench.safecsv import csv_text  # noqa: E402

FRONTEND = Path(__file__).parent  # player.js and player.css
DEFAULT_CONCURRENCY = 8
ADMIN_USER = "admin"
ADMIN_PATH = "/admin"
PASSWORD_ENV = "CODECBENCH_MUSHRA_ADMIN_PASSWORD"
GENERIC_ERROR = "The server could not handle this request, and nothing was saved: try again, or reload the page."
EXPORTS = ("ratings", "events", "listening")
KEEP_ALIVE_S = 65  # idle connections stay open longer than a room of listeners' burst of requests takes
log = logging.getLogger("codecbench.mushra")

WELCOME = """\
# Listening test: {name}

You will hear short speech recordings processed in different ways and rate their quality on a scale
from 0 to 100 (**Bad · Poor · Fair · Good · Excellent**) against the **Reference**. One of the stimuli
in every trial is the reference itself.

- Use good headphones in a quiet room. It takes about {minutes} minutes.
- First a short **training** (its ratings are not counted), then {items} trials.
- Your ratings are saved every time you press **Next**. If anything goes wrong, open your personal link
  (shown on every page) to continue where you stopped.
"""

DOWNLOAD_JS = """(text) => {{
  if (!text) return;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], {{type: "text/csv"}}));
  link.download = "{name}-" + new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-") + ".csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}}"""


def _user_agent(request: Any) -> str:
    return request.headers.get("user-agent", "") if request is not None else ""


def _query(request: Any, name: str) -> str | None:
    return request.query_params.get(name) if request is not None else None


def listener_app(store: MushraStore, concurrency: int):
    """The listener-facing Gradio Blocks."""
    test = store.test
    minutes = max(5, round(len(test.items) * len(test.conditions) * 0.5 + 5))
    welcome_shown, welcome_hidden = gr.Column(visible=True), gr.Column(visible=False)

    def start(name: Any, request: gr.Request):
        try:
            screen = store.register(name if isinstance(name, str) else "", _user_agent(request),
                                    _query(request, "invite"))
            return welcome_hidden, screen, ""
        except SubmissionError as exc:
            log.info("registration refused: %s", exc)
            return welcome_shown, None, f"**{exc}**"
        except Exception:
            log.exception("registration failed (name %r)", name)
            return welcome_shown, None, f"**{GENERIC_ERROR}**"

    def load(request: gr.Request):
        try:
            invite = _query(request, "invite")  # an invitation used before is also the listener's personal link
            token = _query(request, "token") or (store.invited_token(invite) if invite else None)
            if not token:
                return welcome_shown, None, ""
            return welcome_hidden, store.resume(token, _user_agent(request)), ""
        except SubmissionError as exc:
            return welcome_shown, None, f"**{exc}**"
        except Exception:
            log.exception("page load failed")
            return welcome_shown, None, f"**{GENERIC_ERROR}**"

    def player_event(value: Any, request: gr.Request) -> dict[str, Any]:
        screen = {k: v for k, v in value.items() if k not in ("submission", "error")} if isinstance(value, dict) else {}
        try:
            if not isinstance(screen.get("token"), str):
                raise SubmissionError("this page has no listener session: reload it")
            if value.get("submission") is None:
                return store.resume(screen["token"], _user_agent(request))
            return store.submit(screen["token"], screen.get("session"), value["submission"])
        except SubmissionError as exc:
            log.info("refused a player event (listener %r, session %r, trial %r): %s", screen.get("listener"),
                     screen.get("session"), screen.get("trial"), exc)
            return {**screen, "error": str(exc)}
        except Exception:
            log.exception("player event failed (listener %r, session %r, trial %r)", screen.get("listener"),
                          screen.get("session"), screen.get("trial"))
            return {**screen, "error": GENERIC_ERROR}

    with gr.Blocks(title=f"Listening test: {test.name}", analytics_enabled=False) as demo:
        with gr.Column(visible=True) as welcome:
            gr.Markdown(WELCOME.format(name=test.name, minutes=minutes, items=len(test.items)))
            name = gr.Textbox(label="Your name or listener code (optional)", max_lines=1, elem_id="mushra-name")
            begin = gr.Button("Start", variant="primary", elem_id="mushra-start")
        notice = gr.Markdown("", elem_id="mushra-notice")
        player = gr.HTML(value=None, html_template="<div class='mushra-root'></div>",
                         css_template=(FRONTEND / "player.css").read_text(),
                         js_on_load=(FRONTEND / "player.js").read_text(), apply_default_css=False,
                         elem_id="mushra-player")
        begin.click(start, inputs=[name], outputs=[welcome, player, notice], api_name="start",
                    concurrency_limit=concurrency)
        player.submit(player_event, inputs=[player], outputs=[player], api_name="player",
                      concurrency_limit=concurrency, show_progress="hidden")
        demo.load(load, inputs=None, outputs=[welcome, player, notice], api_name=False, concurrency_limit=concurrency)
    demo.queue(default_concurrency_limit=concurrency, max_size=None)
    return demo


def admin_app(store: MushraStore):
    """The admin Gradio Blocks: progress and screening per listener, loudness report, export.

    The export event returns the three CSV files as text (ratings, events, listening) into hidden
    textboxes, and each Save button turns one into a download in the browser.
    """
    test = store.test

    def tables():
        progress = store.progress()
        screening = screen_listeners(store.ratings(), test.spec["reference"], test.spec["anchors"]["mid"]).listeners
        status = {r.listener: ("excluded: " + r.reason if r.excluded else "kept") for r in screening.itertuples()}
        progress["screening"] = [status.get(listener, "no test ratings yet") for listener in progress["listener"]]
        return progress, screening

    def export():
        frames = {"ratings": store.ratings(), "events": store.events(), "listening": store.listening()}
        counts = ", ".join(f"{len(frame)} {name} rows" for name, frame in frames.items())
        log.info("admin export: %s", counts)
        fetched = f"Fetched at {datetime.now().strftime('%H:%M:%S')}: {counts}. Save each file below."
        return [csv_text(frames[name]) for name in EXPORTS] + [fetched]

    loudness = pd.read_csv(test.path(LOUDNESS_CSV)).round(2)
    with gr.Blocks(title=f"Admin: {test.name}", analytics_enabled=False) as admin:
        gr.Markdown(f"# {test.name}: admin\nTest `{test.digest[:16]}` · {len(test.items)} test items, "
                    f"{len(test.training)} training · conditions: {', '.join(f'`{c}`' for c in test.conditions)} · "
                    f"database `{store.path}`")
        refresh = gr.Button("Refresh")
        progress = gr.Dataframe(label="Listeners (screening applies BS.1534-3 to the test ratings so far)",
                                interactive=False)
        screening = gr.Dataframe(label="Post-screening counts", interactive=False)
        gr.Markdown("**Export**: fetch the results, then save each file (it goes from this page to your disk; "
                    "the server writes no file).")
        with gr.Row():
            export_button = gr.Button("Fetch the results", elem_id="mushra-export")
            texts = [gr.Textbox(visible=False) for _ in EXPORTS]
            saves = [gr.Button(f"Save {name}.csv", elem_id=f"mushra-save-{name}") for name in EXPORTS]
        fetched = gr.Markdown("", elem_id="mushra-fetched")
        gr.Dataframe(value=loudness, label=f"Stimulus loudness (BS.1770, LUFS); aligned to "
                                           f"{test.spec['loudness']['aligned_lufs']} LUFS", interactive=False)
        refresh.click(tables, outputs=[progress, screening], api_name="progress")
        admin.load(tables, outputs=[progress, screening], api_name=False)
        export_button.click(export, outputs=[*texts, fetched], api_name="export")
        for name, text, save in zip(EXPORTS, texts, saves):
            save.click(None, inputs=[text], js=DOWNLOAD_JS.format(name=name), api_name=False)
    admin.queue(default_concurrency_limit=2)
    return admin


def create_app(store: MushraStore, admin_password: str, concurrency: int = DEFAULT_CONCURRENCY):
    """Build the server's ASGI app around an open, writable store.

    Args:
        store: the test's database, opened for writing (with its level-check and registration settings).
        admin_password: the password of user `admin` on `/admin` (required).
        concurrency: events handled at once per event type.

    Raises:
        ValueError: no password or a bad setting.
    """
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import Response

    if not admin_password:
        raise ValueError(f"the admin page needs a password (${PASSWORD_ENV} or --admin-password-file)")
    if concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, not {concurrency}")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/mushra/audio/{key}")
    def audio(key: str) -> Response:
        body = store.deliver(key)
        if body is None:
            raise HTTPException(status_code=404, detail="unknown stimulus")
        return Response(body, media_type="audio/wav",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    safe = {"show_error": False, "enable_monitoring": False, "max_file_size": MAX_BODY_BYTES, "footer_links": [],
            "theme": theme, "run_history": False}
    app = gr.mount_gradio_app(app, admin_app(store), path=ADMIN_PATH, auth=(ADMIN_USER, admin_password), **safe)
    app = gr.mount_gradio_app(app, listener_app(store, concurrency), path="/", **safe)
    return Gate(app, ADMIN_PATH, LoginThrottle())


def serve(store: MushraStore, port: int = 7860, host: str = "127.0.0.1", admin_password: str | None = None,
          concurrency: int = DEFAULT_CONCURRENCY) -> None:
    """Run the listening-test server on an open store until interrupted (see `create_app`). The admin
    password is `admin_password`, else `$CODECBENCH_MUSHRA_ADMIN_PASSWORD`, else a random one, printed."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    given = admin_password or os.environ.get(PASSWORD_ENV)
    password = given or secrets.token_urlsafe(12)
    app = create_app(store, password, concurrency)
    registration = store.registration
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    mode = "by invitation only" if registration.invite_only else f"open, at most {registration.per_hour} per hour"
    print(f"listening test '{store.test.name}': {len(store.test.items)} items, {len(store.test.conditions)} "
          f"conditions; results in {store.path}; registration {mode}")
    print(f"listeners: http://{shown}:{port}/")
    print(f"admin:     http://{shown}:{port}{ADMIN_PATH}/  (user '{ADMIN_USER}'"
          + (")" if given else f", password '{password}')"), flush=True)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                  timeout_keep_alive=KEEP_ALIVE_S)).run()
