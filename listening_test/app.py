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

import html
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
from codecbench.listening_test.attention import listeners_export  # noqa: E402
from codecbench.listening_test.gate import MAX_BODY_BYTES, Gate  # noqa: E402
from codecbench.listening_test.platforms import PARTICIPANT_IDS, platform_ids  # noqa: E402
from codecbench.listening_test.store import MushraStore, SubmissionError, now  # noqa: E402
from codecbench.listening_test.testdef import LOUDNESS_CSV  # noqa: E402
from codecbench.listening_test.texts import DEFAULT_LABELS, instructions_text, welcome_text  # noqa: E402
from codecbench.listening_test.throttle import LoginThrottle  # noqa: E402
from codecbench.listening_test.traps import without_traps  # noqa: E402
from codecbench.listening_test.types import MUSHRA, type_of  # noqa: E402
from codecbench.safecsv import csv_text  # noqa: E402

FRONTEND = Path(__file__).parent  # player.js and player.css
DEFAULT_CONCURRENCY = 8
ADMIN_USER = "admin"
ADMIN_PATH = "/admin"
PASSWORD_ENV = "CODECBENCH_MUSHRA_ADMIN_PASSWORD"
GENERIC_ERROR = "The server could not handle this request, and nothing was saved: try again, or reload the page."
EXPORTS = ("ratings", "events", "listening", "trials", "listeners")
ADMIN_REFRESH_S = 15
NARROW_SCREEN_CSS = "@media (max-width: 640px) { .gradio-container { padding-left: 8px !important; " \
                    "padding-right: 8px !important; } }"  # a phone's width goes to the sliders
KEEP_ALIVE_S = 65  # idle connections stay open longer than a room of listeners' burst of requests takes
log = logging.getLogger("codecbench.mushra")

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


def _participant(request: Any) -> bool:
    """The page was opened from a crowdsourcing platform's link with a participant id."""
    return any(k in PARTICIPANT_IDS for k in platform_ids(getattr(request, "query_params", None)))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def player_texts(test: Any) -> dict[str, Any]:
    """What player.js shows besides the screens: the labels (the defaults under a test's own, so a test built
    before a label existed still reads), instructions (with the trap notice in a test with traps), end text,
    questionnaire, and whether the checks may be skipped."""
    texts = test.texts
    kind = type_of(test).player(test)  # the test type and what its trial page needs
    labels = {**DEFAULT_LABELS, **kind.pop("labels", {}), **texts["labels"]}
    instructions = instructions_text(texts, test.rule.min_play_s)
    if test.traps:
        instructions = f"{instructions} {labels['trap_notice']}"
    return {"language": texts["language"], "labels": labels, "end": texts["end"], "instructions": instructions,
            "questionnaire": texts["questionnaire"], "require_headphones": test.require_headphones, **kind}


def listener_app(store: MushraStore, concurrency: int):
    """The listener-facing Gradio Blocks (one long function: Gradio binds every component and event inside one
    `with gr.Blocks()` block)."""
    test = store.test
    texts, labels = test.texts, test.texts["labels"]
    listening_s = sum(test.duration_s(e.item) for e in test.items + test.training) * len(test.conditions)
    minutes = max(5, round(listening_s * 2.5 / 60 + 3))  # every stimulus heard about twice, plus rating and checks
    welcome_shown, welcome_hidden = gr.Column(visible=True), gr.Column(visible=False)

    def start(name: Any, expertise: Any, headphones: Any, consent: Any, request: gr.Request):
        if texts["consent"] and consent is not True:
            return welcome_shown, None, f"**{labels['consent_needed']}**"
        info = {"expertise": _text(expertise), "headphones": _text(headphones).strip(),
                "consent": f"yes, {now()}" if consent is True else "", **platform_ids(getattr(request, "query_params", None))}
        try:
            screen = store.register(_text(name), _user_agent(request), _query(request, "invite"), info,
                                    request.client.host if request is not None and request.client else "")
            return welcome_hidden, screen, ""
        except SubmissionError as exc:
            log.info("registration refused: %s", exc)
            return welcome_shown, None, f"**{exc}**"
        except Exception:
            log.exception("registration failed (name %r)", name)
            return welcome_shown, None, f"**{GENERIC_ERROR}**"

    def load(request: gr.Request):
        named = gr.update(visible=not _participant(request))  # a platform's participant id names them
        try:
            invite = _query(request, "invite")  # an invitation used before is also the listener's personal link
            token = _query(request, "token") or (store.invited_token(invite) if invite else None)
            if not token:
                return welcome_shown, None, "", named
            return welcome_hidden, store.resume(token, _user_agent(request)), "", named
        except SubmissionError as exc:
            return welcome_shown, None, f"**{exc}**", named
        except Exception:
            log.exception("page load failed")
            return welcome_shown, None, f"**{GENERIC_ERROR}**", named

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
        with gr.Column(visible=True, elem_id="mushra-welcome") as welcome:
            gr.Markdown(welcome_text(texts, test.name, minutes, len(test.items), len(test.training),
                                     test.rule.min_play_s))
            gr.Markdown(texts["privacy"], elem_id="mushra-privacy")
            name = gr.Textbox(label=labels["name"], max_lines=1, elem_id="mushra-name")
            expertise = gr.Radio(labels["expertise_choices"], label=labels["expertise"], elem_id="mushra-expertise")
            phones = gr.Textbox(label=labels["headphones"], max_lines=1, elem_id="mushra-headphones")
            consent = gr.Checkbox(label=texts["consent"] or "consent", visible=bool(texts["consent"]),
                                  elem_id="mushra-consent")
            begin = gr.Button(labels["start"], variant="primary", elem_id="mushra-start")
        notice = gr.Markdown("", elem_id="mushra-notice")
        player = gr.HTML(value=None, html_template="<div class='mushra-root'></div>",
                         css_template=(FRONTEND / "player.css").read_text(),
                         js_on_load=(FRONTEND / "player.js").read_text(), apply_default_css=False,
                         elem_id="mushra-player", texts=player_texts(test))
        fields = [name, expertise, phones, consent]
        begin.click(start, inputs=fields, outputs=[welcome, player, notice], api_name="start",
                    concurrency_limit=concurrency)
        for field in (name, phones):  # Enter in a text field starts too
            field.submit(start, inputs=fields, outputs=[welcome, player, notice], api_name=False,
                         concurrency_limit=concurrency)
        player.submit(player_event, inputs=[player], outputs=[player], api_name="player",
                      concurrency_limit=concurrency, show_progress="hidden")
        demo.load(load, inputs=None, outputs=[welcome, player, notice, name], api_name=False,
                  concurrency_limit=concurrency)
    demo.queue(default_concurrency_limit=concurrency, max_size=None)
    return demo


def admin_app(store: MushraStore):
    """The admin Gradio Blocks: progress, time and screening per listener (refreshed every `ADMIN_REFRESH_S`),
    means per condition of the kept listeners, a lost personal link looked up, loudness report, export (one long
    function: Gradio binds every component and event inside one `with gr.Blocks()` block).

    The export event returns the CSV files as text into hidden textboxes, and each Save button turns one into
    a download in the browser.
    """
    from codecbench.listening_test.analysis import condition_order, summarize

    test = store.test

    def tables():
        listeners, ratings = store.listeners(), store.ratings()
        if store.kind.name != MUSHRA:  # another test type screens and summarises its own way
            from codecbench.listening_test.types.analysis import admin_tables

            screening, means = admin_tables(store.kind.name, ratings, test.spec["reference"])
        else:
            screening = screen_listeners(ratings, test.spec["reference"], test.mid_anchor, listeners).listeners
        status = {r.listener: ("excluded: " + r.reason if r.excluded else "kept") for r in screening.itertuples()}
        shown = pd.DataFrame({
            "listener": listeners["listener"],  # screening next to the listener: in view on a laptop's screen
            "screening": [status.get(listener, "no test ratings yet") for listener in listeners["listener"]],
            "name": listeners["name"],
            "joined": listeners["registration"] + [f", {ids}" if ids else "" for ids in _platform_column(listeners)],
            "sessions": listeners["sessions"],
            "checks": [_checks(r) for r in listeners.itertuples()],
            "training": listeners["training_done"],
            "test": [f"{r.test_done}/{r.test_total}" for r in listeners.itertuples()],
            "time_min": (listeners["time_s"] / 60).round(1), "listened_min": (listeners["listening_s"] / 60).round(1),
            "last": listeners["last_submission"].fillna("").str.slice(11, 19)})
        if store.kind.name == MUSHRA:
            kept = without_traps(ratings)
            kept = kept[(kept["phase"] == "test") & kept["listener"].isin(
                screening.loc[~screening["excluded"], "listener"])]
            order = condition_order(kept["condition"].tolist(), test.spec["reference"], test.mid_anchor)
            means = summarize(kept, ["condition"], order)[["condition", "n", "mean", "ci95_low", "ci95_high"]].round(1)
        return shown, screening, means

    def link(listener: Any, request: gr.Request) -> str:
        token = store.token_of(_text(listener).strip())
        if token is None:
            return f"No listener {_text(listener).strip()!r}."
        base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}/" if request else "/"
        return f"Personal link of {_text(listener).strip()}: `{base}?token={token}`"

    def export():
        frames = {"ratings": store.ratings(), "events": store.events(), "listening": store.listening(),
                  "trials": store.trials(), "listeners": listeners_export(store)}
        counts = ", ".join(f"{len(frame)} {name} rows" for name, frame in frames.items())
        log.info("admin export: %s", counts)
        fetched = f"Fetched at {datetime.now().strftime('%H:%M:%S')}: {counts}. Save each file below."
        return [csv_text(frames[name]) for name in EXPORTS] + [fetched]

    loudness = pd.read_csv(test.path(LOUDNESS_CSV)).round(2)
    anchors = ", ".join(f"`{a}` (log-spectral distance {d['lsd_db'][0]:.1f}-{d['lsd_db'][1]:.1f} dB)"
                        for a, d in (test.spec.get("anchor_distance") or {}).items()) or "none (MUSHRA-like)"
    notes = "".join(f"\n- {note}" for note in test.spec.get("notes") or [])
    with gr.Blocks(title=f"Admin: {test.name}", analytics_enabled=False, fill_width=True) as admin:
        gr.Markdown(f"# {test.name}: admin\nTest `{test.digest[:16]}` · {len(test.items)} test items, "
                    f"{len(test.training)} training · conditions: {', '.join(f'`{c}`' for c in test.conditions)} · "
                    f"anchors: {anchors} · listening rule: every stimulus heard {test.rule.min_play_s:g} s · "
                    f"database `{store.path}`" + (f"\n\n**Notes on this test:**{notes}" if notes else ""))
        refresh = gr.Button("Refresh (also every {} s)".format(ADMIN_REFRESH_S))
        progress = gr.Dataframe(label="Listeners (screening applies BS.1534-3 to the test ratings so far)",
                                interactive=False, wrap=True, elem_id="mushra-progress")
        means = gr.Dataframe(label="Mean rating per condition, kept listeners (95 % CI)", interactive=False)
        screening = gr.Dataframe(label="Post-screening counts", interactive=False, wrap=True)
        with gr.Row():
            who = gr.Textbox(label="A listener who lost their personal link (e.g. L007)", max_lines=1,
                             elem_id="mushra-lookup")
            find = gr.Button("Show their link")
        found = gr.Markdown("", elem_id="mushra-link")
        gr.Markdown("**Export**: fetch the results, then save each file (it goes from this page to your disk; "
                    "the server writes no file).")
        with gr.Row():
            export_button = gr.Button("Fetch the results", elem_id="mushra-export")
            texts = [gr.Textbox(visible=False) for _ in EXPORTS]
            saves = [gr.Button(f"Save {name}.csv", elem_id=f"mushra-save-{name}") for name in EXPORTS]
        fetched = gr.Markdown("", elem_id="mushra-fetched")
        gr.Dataframe(value=loudness, label=f"Stimulus loudness (BS.1770, LUFS); aligned to "
                                           f"{test.spec['loudness']['aligned_lufs']} LUFS", interactive=False)
        outputs = [progress, screening, means]
        refresh.click(tables, outputs=outputs, api_name="progress")
        gr.Timer(ADMIN_REFRESH_S).tick(tables, outputs=outputs, api_name=False, show_progress="hidden")
        admin.load(tables, outputs=outputs, api_name=False)
        find.click(link, inputs=[who], outputs=[found], api_name="link")
        who.submit(link, inputs=[who], outputs=[found], api_name=False)
        export_button.click(export, outputs=[*texts, fetched], api_name="export")
        for name, text, save in zip(EXPORTS, texts, saves):
            save.click(None, inputs=[text], js=DOWNLOAD_JS.format(name=name), api_name=False)
    admin.queue(default_concurrency_limit=2)
    return admin


def _platform_column(listeners: pd.DataFrame) -> list[str]:
    ids = [c for c in ("PROLIFIC_PID", "workerId") if c in listeners]
    return [" ".join(f"{c}={row[c]}" for c in ids if isinstance(row[c], str) and row[c])
            for _, row in listeners.iterrows()]


def _checks(row: Any) -> str:
    huggins = "" if pd.isna(row.huggins_correct) else f"; headphones {row.huggins_correct}/{row.huggins_rounds}"
    return (row.headphone_check or "not yet") + huggins


class TitledPages:
    """ASGI wrapper: HTML pages of `paths` that have no `<title>` get `title` (Gradio's login page has none).

    Args:
        app: the ASGI app.
        paths: exact request paths whose HTML is checked.
        title: the title to give them.
    """

    def __init__(self, app: Any, paths: set[str], title: str) -> None:
        self.app, self.paths = app, paths
        self.title = f"<title>{html.escape(title)}</title>".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def buffered(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = dict(start.get("headers", []))
            page = bytes(body)
            if headers.get(b"content-type", b"").startswith(b"text/html") and b"<title" not in page:
                page = page.replace(b"<head>", b"<head>" + self.title, 1)
            start["headers"] = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"] + \
                [(b"content-length", str(len(page)).encode())]
            await send(start)
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, buffered)


def create_app(store: MushraStore, admin_password: str, concurrency: int = DEFAULT_CONCURRENCY,
               trusted_proxies: tuple[str, ...] = ()):
    """Build the server's ASGI app around an open, writable store.

    Args:
        store: the test's database, opened for writing (with its level-check and registration settings).
        admin_password: the password of user `admin` on `/admin` (required).
        concurrency: events handled at once per event type.
        trusted_proxies: reverse proxies whose `X-Forwarded-For` names the client (see `gate.client_address`).

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

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]).set(
        button_primary_background_fill="#1d4ed8", button_primary_background_fill_hover="#1e40af",
        button_primary_text_color="#ffffff", button_primary_border_color="#1e3a8a")  # 6.7:1 (WCAG AA: 4.5:1)
    safe = {"show_error": False, "enable_monitoring": False, "max_file_size": MAX_BODY_BYTES, "footer_links": [],
            "theme": theme, "run_history": False, "css": NARROW_SCREEN_CSS}
    admin, listener = admin_app(store), listener_app(store, concurrency)
    app = gr.mount_gradio_app(app, admin, path=ADMIN_PATH, auth=(ADMIN_USER, admin_password), **safe)
    app = gr.mount_gradio_app(app, listener, path="/", **safe)
    apis = {mount: {f.api_name for f in blocks.fns.values() if f.api_name} for mount, blocks in
            (("", listener), (ADMIN_PATH, admin))}
    app = TitledPages(app, {ADMIN_PATH, f"{ADMIN_PATH}/"}, f"Admin login: {store.test.name}")
    return Gate(app, ADMIN_PATH, LoginThrottle(), apis=apis, trusted_proxies=trusted_proxies)


def serve(store: MushraStore, port: int = 7860, host: str = "127.0.0.1", admin_password: str | None = None,
          concurrency: int = DEFAULT_CONCURRENCY, trusted_proxies: tuple[str, ...] = ()) -> None:
    """Run the listening-test server on an open store until interrupted (see `create_app`). The admin
    password is `admin_password`, else `$CODECBENCH_MUSHRA_ADMIN_PASSWORD`, else a random one, printed."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    given = admin_password or os.environ.get(PASSWORD_ENV)
    password = given or secrets.token_urlsafe(12)
    app = create_app(store, password, concurrency, trusted_proxies)
    registration = store.registration
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    mode = "by invitation only" if registration.invite_only else f"open, at most {registration.per_hour} per hour"
    print(f"listening test '{store.test.name}': {len(store.test.items)} items, {len(store.test.conditions)} "
          f"conditions; results in {store.path}; registration {mode}")
    print(f"listeners: http://{shown}:{port}/")
    print(f"admin:     http://{shown}:{port}{ADMIN_PATH}/  (user '{ADMIN_USER}'"
          + (")" if given else f", password '{password}')"), flush=True)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                  timeout_keep_alive=KEEP_ALIVE_S, proxy_headers=False)).run()
