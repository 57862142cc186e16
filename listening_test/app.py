"""`codecbench mushra serve`: the listener app (Gradio), the password-protected admin page and the stimulus route.

One FastAPI server holds three parts:
- `/mushra/audio/{key}`: stimulus bytes by opaque per-listener key (no file name, no ETag, no caching),
  so the browser never learns which stimulus is the reference, an anchor or which codec.
- `/admin`: a Gradio app behind Gradio's password login: progress per listener, screening, export.
- `/`: the listener app. Welcome (Gradio components) -> level/headphone check -> training -> test, all
  in one `gr.HTML` element running `player.js`. Every step is one queued Gradio event
  (`api_name="player"`); the database serialises the writes.

Queue settings: every event may run `concurrency` at once (default 8): handlers only touch SQLite,
whose writes are serialised by `BEGIN IMMEDIATE` with a 30 s busy timeout, so a few threads keep reads
overlapping without piling up writers; the queue is unbounded (`max_size=None`) so a class of listeners
pressing Next together is queued, never refused.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the server

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from codecbench.listening_test.analysis import screen_listeners  # noqa: E402
from codecbench.listening_test.store import MushraStore, SubmissionError, default_db  # noqa: E402
from codecbench.listening_test.testdef import LOUDNESS_CSV, load_test  # noqa: E402

FRONTEND = Path(__file__).parent  # player.js and player.css
DEFAULT_CONCURRENCY = 8
ADMIN_USER = "admin"

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


def _user_agent(request: Any) -> str:
    return request.headers.get("user-agent", "") if request is not None else ""


def listener_app(store: MushraStore, concurrency: int):
    """The listener-facing Gradio Blocks."""
    test = store.test
    minutes = max(5, round(len(test.items) * len(test.conditions) * 0.5 + 5))

    def start(name: str, request: gr.Request):
        return gr.Column(visible=False), store.register(name or "", _user_agent(request)), ""

    def load(request: gr.Request):
        token = request.query_params.get("token") if request is not None else None
        if not token:
            return gr.Column(visible=True), None, ""
        try:
            return gr.Column(visible=False), store.resume(token, _user_agent(request)), ""
        except SubmissionError as exc:
            return gr.Column(visible=True), None, f"**{exc}**"

    def player_event(value: Any, request: gr.Request) -> dict[str, Any]:
        if not isinstance(value, dict) or not value.get("token"):
            raise gr.Error("This page has no listener session: reload it.")
        submission = value.get("submission")
        try:
            if submission is None:
                return store.resume(str(value["token"]), _user_agent(request))
            return store.submit(str(value["token"]), value.get("session"), submission)
        except SubmissionError as exc:
            screen = {k: v for k, v in value.items() if k not in ("submission", "error")}
            return {**screen, "error": str(exc)}

    with gr.Blocks(title=f"Listening test: {test.name}", analytics_enabled=False) as demo:
        with gr.Column(visible=True) as welcome:
            gr.Markdown(WELCOME.format(name=test.name, minutes=minutes, items=len(test.items)))
            name = gr.Textbox(label="Your name or listener code (optional)", max_lines=1, elem_id="mushra-name")
            begin = gr.Button("Start", variant="primary", elem_id="mushra-start")
        notice = gr.Markdown("")
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
    """The admin Gradio Blocks: progress and screening per listener, loudness report, export."""
    test = store.test

    def tables():
        progress = store.progress()
        screening = screen_listeners(store.ratings(), test.spec["reference"], test.spec["anchors"]["mid"]).listeners
        status = {r.listener: ("excluded: " + r.reason if r.excluded else "kept") for r in screening.itertuples()}
        progress["screening"] = [status.get(listener, "no test ratings yet") for listener in progress["listener"]]
        return progress, screening

    def export():
        folder = Path(tempfile.mkdtemp(prefix="mushra-export-"))
        path = folder / f"ratings-{datetime.now().strftime('%Y%m%d-%H%M%S')}.csv"
        store.ratings().to_csv(path, index=False)
        events = folder / path.name.replace("ratings-", "events-")
        store.events().to_csv(events, index=False)
        return [str(path), str(events)]

    loudness = pd.read_csv(test.path(LOUDNESS_CSV)).round(2)
    with gr.Blocks(title=f"Admin: {test.name}", analytics_enabled=False) as admin:
        gr.Markdown(f"# {test.name}: admin\nTest `{test.digest[:16]}` · {len(test.items)} test items, "
                    f"{len(test.training)} training · conditions: {', '.join(f'`{c}`' for c in test.conditions)} · "
                    f"database `{store.path}`")
        refresh = gr.Button("Refresh")
        progress = gr.Dataframe(label="Listeners (screening applies BS.1534-3 to the test ratings so far)",
                                interactive=False)
        screening = gr.Dataframe(label="Post-screening counts", interactive=False)
        with gr.Row():
            export_button = gr.Button("Export ratings.csv and events.csv")
            files = gr.File(label="Exports", file_count="multiple")
        gr.Dataframe(value=loudness, label=f"Stimulus loudness (BS.1770, LUFS); aligned to "
                                           f"{test.spec['loudness']['aligned_lufs']} LUFS", interactive=False)
        refresh.click(tables, outputs=[progress, screening], api_name="progress")
        admin.load(tables, outputs=[progress, screening], api_name=False)
        export_button.click(export, outputs=[files], api_name="export")
    admin.queue(default_concurrency_limit=2)
    return admin


def create_app(test_dir: str | Path, db: str | Path | None = None, admin_password: str = "",
               level_check: bool = True, concurrency: int = DEFAULT_CONCURRENCY):
    """Build the server's FastAPI app; returns (app, store).

    Args:
        test_dir: a folder written by `codecbench mushra build` (its checksums are verified).
        db: the SQLite results file (default `TEST_DIR/results/mushra.sqlite`).
        admin_password: the password of user `admin` on `/admin` (required).
        level_check: show the level/headphone check before the training.
        concurrency: events handled at once per event type.
    """
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import Response

    if not admin_password:
        raise ValueError("the admin page needs a password (--admin-password or $CODECBENCH_MUSHRA_ADMIN_PASSWORD)")
    if concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, not {concurrency}")
    test = load_test(test_dir)
    store = MushraStore(db or default_db(test_dir), test, level_check)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/mushra/audio/{key}")
    def audio(key: str) -> Response:
        path = store.audio_file(key)
        if path is None:
            raise HTTPException(status_code=404, detail="unknown stimulus")
        return Response(path.read_bytes(), media_type="audio/wav",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    app = gr.mount_gradio_app(app, admin_app(store), path="/admin", auth=(ADMIN_USER, admin_password),
                              footer_links=[], theme=theme, run_history=False)
    app = gr.mount_gradio_app(app, listener_app(store, concurrency), path="/", footer_links=[], theme=theme,
                              run_history=False)
    return app, store


def serve(test_dir: str | Path, port: int = 7860, host: str = "127.0.0.1", db: str | Path | None = None,
          admin_password: str | None = None, level_check: bool = True,
          concurrency: int = DEFAULT_CONCURRENCY) -> None:
    """Run the listening-test server until interrupted (see `create_app`); a missing admin password is
    generated and printed."""
    import uvicorn

    password = admin_password or os.environ.get("CODECBENCH_MUSHRA_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    app, store = create_app(test_dir, db, password, level_check, concurrency)
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    print(f"listening test '{store.test.name}': {len(store.test.items)} items, {len(store.test.conditions)} "
          f"conditions; results in {store.path}")
    print(f"listeners: http://{shown}:{port}/")
    print(f"admin:     http://{shown}:{port}/admin/  (user '{ADMIN_USER}'"
          + (")" if admin_password or os.environ.get("CODECBENCH_MUSHRA_ADMIN_PASSWORD")
             else f", password '{password}')"), flush=True)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
