"""The holes of the security review, probed as an attacker would: over HTTP against a real `codecbench mushra serve`.

Every probe that talks to a served test runs against a MUSHRA, an ACR and an A/B test (`target` is
parametrized over the types: one server each); the probes that start servers of their own (registration,
proxies, the password file) test the gate and registration, which do not depend on the test type.

1 byte-identical hidden reference, trials accepted unheard, open registration · 2 uploads · 3 admin exports
through the listener app's file route · 5 admin login guessing · 6 Gradio internals, anonymous /start ·
7 CSV formula injection · 8 raw errors to clients. (4, read-only databases: test_mushra_readonly.py.)
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
import stat
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from mushra_helpers import ADMIN_PASSWORD, admin_login, call, start_server, welcome

from codecbench.benchmarks.mushra_bot import experiment, report
from codecbench.cli import main
from codecbench.listening_test.client import ListenerClient, playback_events
from codecbench.listening_test.harness import free_port
from codecbench.listening_test.stimuli import integrated_loudness

FILE_PASSWORD = "from-a-password-file-7Q"
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(A1:A9)", "\t=1+1"]
LINE_BREAKS = ["x\r@SUM(1+1)", "y\n-2+3", "z\r\n=1+1"]  # a line break inside a cell starts a new row in some readers
LEAKS = ("sqlite", "binding", "overflow", "traceback", "not supported", "interfaceerror", "operationalerror",
         "integrityerror", "keyerror", "typeerror", "attributeerror")


@pytest.fixture(scope="module")
def mushra_test_dir(tmp_path_factory, mushra_run):
    """The conftest's test folder with a 0.25 s listening rule: scripted listeners wait as the server's
    wall-clock check asks (6 stimuli one after the other per trial), so a short rule keeps this module fast."""
    from codecbench.listening_test.build import Protocol, build_test
    from codecbench.listening_test.events import ListeningRule

    out = tmp_path_factory.mktemp("mushra_test") / "test"
    build_test(out, run=mushra_run, items=5, training_items=1, progress=False, protocol=Protocol(ListeningRule(0.25)))
    return out


@pytest.fixture(scope="module", params=["mushra", "acr", "ab"])
def target(request, mushra_test_dir, typed_test_dir, tmp_path_factory):
    """The server under attack, one per test type: open registration, the admin password from a file, its own
    Gradio temp folder; `test_dir` and `kind` say what it serves."""
    test_dir = mushra_test_dir if request.param == "mushra" else typed_test_dir(request.param)
    folder = tmp_path_factory.mktemp("target")
    (folder / "password").write_text(FILE_PASSWORD + "\n")
    (folder / "password").chmod(0o600)
    (folder / "gradio-tmp").mkdir()
    server = start_server(test_dir, folder / "results.sqlite", folder / "server.log",
                          ("--admin-password-file", str(folder / "password"), "--registrations-per-hour", "500"),
                          env={"GRADIO_TEMP_DIR": str(folder / "gradio-tmp")})
    server.test_dir, server.kind = test_dir, request.param
    yield server
    server.stop()


def listen(url: str, flow):
    """Run `flow(client)` with a fresh listener client of the server at `url`."""
    async def run():
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            return await flow(ListenerClient(http))
    return asyncio.run(run())


async def first_trial(client: ListenerClient, name: str) -> dict:
    screen = await client.start(name)
    return await client.skip_level(screen)


def valid_answers(target, screen: dict, value: int) -> dict[str, int]:
    """Valid answers to a trial of the target's type: MUSHRA `value` (0-100) for every stimulus; ACR the category
    nearest to it; A/B the first stimulus preferred."""
    keys = [s["key"] for s in screen["stimuli"]]
    if target.kind == "acr":
        return {key: 1 + round(value * 4 / 100) for key in keys}
    if target.kind == "ab":
        return dict(zip(keys, (100, 0)))
    return {key: value for key in keys}


def heard_keys(screen: dict) -> list[str]:
    """The stimuli of a trial and its open reference, if it has one."""
    return [s["key"] for s in screen["stimuli"]] + ([screen["reference"]] if screen.get("reference") else [])


def rows(db: Path, query: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, args).fetchall()


# -- 1: the hidden reference, unheard trials, registration ---------------------------------------------------------

def test_byte_matching_bot_no_longer_finds_the_hidden_reference(target, mushra_test_dir):
    if target.kind != "mushra":
        pytest.skip("a hidden reference among rated stimuli is MUSHRA's (the bot needs one to look for)")
    result = experiment(target.url, mushra_test_dir, target.db, bots=2, honest=2)
    print("\n" + report(result))
    assert [(b.trials, b.matched) for b in result.bots] == [(6, 0), (6, 0)]
    assert set(result.excluded["listener"]) == {b.listener for b in result.bots}  # post-screening catches them


def test_every_served_stimulus_differs_in_bytes_and_samples_and_keeps_its_loudness(target):
    expected = []

    async def flow(client: ListenerClient) -> dict[str, bytes]:
        served = {}
        for name in ("dither-1", "dither-2"):
            screen = await client.start(name)
            served.update(await client.fetch(screen))  # the level sample
            screen = await client.skip_level(screen)
            expected.append(1)
            for _ in range(2):  # the first two trials
                audio = await client.fetch(screen)
                assert await client.fetch(screen) == audio  # a stimulus is the same bytes every time it is fetched
                served.update(audio)
                expected.append(len(heard_keys(screen)))
                screen = await client.submit(screen, valid_answers(target, screen, 50))
        return served

    served = listen(target.url, flow)
    files = dict(rows(target.db, f"SELECT key, file FROM stimuli WHERE key IN ({','.join('?' * len(served))})",
                      *served))
    assert len(served) == sum(expected) and len(set(served.values())) == len(served)
    decoded = {key: sf.read(io.BytesIO(body), dtype="int16", always_2d=True) for key, body in served.items()}
    assert len({samples.tobytes() for samples, _ in decoded.values()}) == len(served)
    shared_files = [f for f in set(files.values()) if list(files.values()).count(f) > 1]
    assert shared_files  # the same file went out under several keys, each time different
    for key, (samples, rate) in decoded.items():
        source, source_rate = sf.read(target.test_dir / files[key], dtype="int16", always_2d=True)
        assert (rate, samples.shape) == (source_rate, source.shape)
        change = samples.astype(int) - source
        assert np.abs(change).max() <= 1 and 0.15 < np.mean(change != 0) < 0.35  # TPDF at the 16-bit LSB
        assert abs(integrated_loudness(samples / 32767.0, rate) - integrated_loudness(source / 32767.0, rate)) < 0.01


def test_a_trial_is_accepted_only_after_all_its_stimuli_were_served(target):
    async def flow(client: ListenerClient):
        screen = await first_trial(client, "gate")
        ratings = valid_answers(target, screen, 40)
        unheard = await client.submit(screen, ratings)
        keys = heard_keys(screen)
        for key in keys[:-1]:
            await client.audio(key)
        one_missing = await client.submit(screen, ratings)
        await client.audio(keys[-1])
        accepted = await client.submit(screen, ratings, playback_events(screen, ms_each=300))
        return screen, unheard, one_missing, accepted

    screen, unheard, one_missing, accepted = listen(target.url, flow)
    for refused in (unheard, one_missing):
        assert refused["trial"] == screen["trial"] and "play every stimulus" in refused["error"]
    assert accepted["trial"] == screen["trial"] + 1 and not accepted.get("error")
    stored = rows(target.db, "SELECT COUNT(*) FROM ratings WHERE listener = ?", screen["listener"])[0][0]
    assert stored == len(screen["stimuli"])
    plays = rows(target.db, "SELECT s.role, p.starts, p.play_ms FROM plays p JOIN stimuli s ON s.key = p.stimulus "
                 "WHERE s.listener = ? AND s.trial = ?", screen["listener"], screen["trial"])
    assert sorted(r for r, _, _ in plays) == ["open-reference"] * (len(heard_keys(screen)) - len(screen["stimuli"])) \
        + ["rated"] * len(screen["stimuli"])
    assert all((starts, ms) == (1, 300.0) for _, starts, ms in plays)
    served = rows(target.db, "SELECT COUNT(*) FROM deliveries d JOIN stimuli s ON s.key = d.stimulus "
                  "WHERE s.listener = ? AND s.trial = ?", screen["listener"], screen["trial"])[0][0]
    assert served == len(heard_keys(screen))


def test_invite_only_registration(mushra_test_dir, tmp_path, capsys):
    db, port = tmp_path / "results.sqlite", free_port()
    assert main(["mushra", "invite", str(mushra_test_dir), "3", "--db", str(db),
                 "--url", f"http://127.0.0.1:{port}/"]) == 0
    links = capsys.readouterr().out.split()
    assert len(links) == 3 and all(link.startswith(f"http://127.0.0.1:{port}/?invite=") for link in links)
    codes = [link.split("invite=")[1] for link in links]
    server = start_server(mushra_test_dir, db, tmp_path / "server.log", ("--registration", "invite"), port=port)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            _, screen, notice = call(client, "start", *welcome("anonymous"))
            assert screen is None and "invitation" in notice
            _, screen, notice = call(client, "start", *welcome("guesser"), params={"invite": "not-an-invite-code"})
            assert screen is None and "invitation" in notice
            first = call(client, "start", *welcome("Ada"), params={"invite": codes[0]})[1]
            again = call(client, "start", *welcome(""), params={"invite": codes[0]})[1]  # the personal link, opened again
            second = call(client, "start", *welcome("Bob"), params={"invite": codes[1]})[1]
            assert client.get("/", params={"invite": codes[2]}).status_code == 200
    finally:
        server.stop()
    assert (again["listener"], again["token"]) == (first["listener"], first["token"]) and again["session"] == 2
    assert second["listener"] != first["listener"]
    assert rows(db, "SELECT COUNT(*) FROM listeners")[0][0] == 2
    assert rows(db, "SELECT COUNT(*) FROM invites WHERE listener IS NULL")[0][0] == 1


def test_open_registration_is_rate_limited(mushra_test_dir, tmp_path):
    db = tmp_path / "results.sqlite"
    server = start_server(mushra_test_dir, db, tmp_path / "server.log", ("--registrations-per-hour", "3"))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert all(call(client, "start", *welcome(f"welcome-{i}"))[1]["screen"] == "level" for i in range(3))
            size = rows(db, "SELECT COUNT(*) FROM stimuli")[0][0]
            for i in range(20):  # a flood of anonymous /start calls
                _, screen, notice = call(client, "start", *welcome(f"flood-{i}"))
                assert screen is None and "try again" in notice
            size = rows(db, "SELECT COUNT(*) FROM stimuli")[0][0]
        with httpx.Client(base_url=server.url, timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2")) \
                as someone_else:  # the flood closed registration for its own address only
            assert call(someone_else, "start", *welcome("someone else"))[1]["screen"] == "level"
    finally:
        server.stop()
    assert rows(db, "SELECT COUNT(*) FROM listeners")[0][0] == 4
    assert rows(db, "SELECT COUNT(*) FROM stimuli")[0][0] > size  # the flood did not grow it, the newcomer did


# -- 2: uploads and request size ---------------------------------------------------------------------------------

def test_uploads_are_refused_and_request_bodies_capped(target):
    page = ("probe.html", b"<script>alert(document.cookie)</script>", "text/html")
    with httpx.Client(base_url=target.url, timeout=60) as client:
        upload = client.post("/gradio_api/upload", files={"files": page})
        assert upload.status_code == 404, upload.text
        admin_login(client, FILE_PASSWORD)
        assert client.post("/admin/gradio_api/upload", files={"files": page}).status_code == 404
        huge = client.post("/gradio_api/call/player", content=b'{"data": [' + b" " * (9 << 20) + b"]}",
                           headers={"content-type": "application/json"})
        assert huge.status_code == 413
        unsized = client.post("/gradio_api/call/player", content=iter([b'{"data": [null]}']),
                              headers={"content-type": "application/json"})
        assert unsized.status_code == 411
    assert not [p for p in (target.db.parent / "gradio-tmp").rglob("probe.html")]


# -- 3: admin exports --------------------------------------------------------------------------------------------

def test_admin_export_never_passes_through_a_file_route(target, tmp_path):
    async def flow(client: ListenerClient):
        screen = await first_trial(client, "exported")
        await client.fetch(screen)
        return await client.submit(screen, valid_answers(target, screen, 70))

    listen(target.url, flow)
    with httpx.Client(base_url=target.url, timeout=60) as admin:
        admin_login(admin, FILE_PASSWORD)
        exported = call(admin, "export", app="/admin")
    with httpx.Client(base_url=target.url, timeout=60) as stranger:
        for path in re.findall(r"(/[\w./-]+\.csv)", json.dumps(exported)) + ["/etc/hostname",
                                                                              str(target.test_dir / "test.yaml")]:
            assert stranger.get(f"/gradio_api/file={path}").status_code == 404, path
    ratings_csv, events_csv, listening_csv, trials_csv, listeners_csv, fetched = exported
    assert "ratings rows" in fetched
    assert ratings_csv.splitlines()[0] == "listener,session,trial,item,condition,rating,phase,timestamp"
    assert len(ratings_csv.splitlines()) > 1
    assert all(csv.startswith("listener,") for csv in (events_csv, listening_csv, trials_csv, listeners_csv))
    leftovers = [p for p in (target.db.parent / "gradio-tmp").rglob("*") if p.is_file()
                 and "listener,session,trial" in p.read_text(errors="ignore")]
    assert leftovers == []

    out = tmp_path / "exports"
    assert main(["mushra", "export", str(target.test_dir), "--db", str(target.db), "--out", str(out / "r.csv"),
                 "--events", str(out / "e.csv"), "--listening", str(out / "l.csv")]) == 0
    for name in ("r.csv", "e.csv", "l.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert (out / "r.csv").read_text() == ratings_csv


# -- 5: the admin login ------------------------------------------------------------------------------------------

def test_admin_login_is_rate_limited_with_lockout(target):
    attacker_address = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=target.url, timeout=60, transport=attacker_address) as attacker:
        guesses = [attacker.post("/admin/login", data={"username": "admin", "password": f"guess-{i}"}).status_code
                   for i in range(5)]
        locked = attacker.post("/admin/login", data={"username": "admin", "password": FILE_PASSWORD})
    assert guesses == [400] * 5
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    with httpx.Client(base_url=target.url, timeout=60) as admin:  # another address is not locked out
        assert admin.post("/admin/login", data={"username": "admin", "password": FILE_PASSWORD}).status_code == 200
    command_line = Path(f"/proc/{target.process.pid}/cmdline").read_bytes()
    assert FILE_PASSWORD.encode() not in command_line and ADMIN_PASSWORD.encode() not in command_line
    repo = Path(__file__).parents[2]
    for page in [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]:  # no page shows a password on a command line
        assert not re.search(r"--admin-password \S", page.read_text()), page.name


# -- 6: Gradio's internals and anonymous /start ------------------------------------------------------------------

def test_gradio_internals_are_closed(target):
    closed = ["/monitoring", "/monitoring/summary", "/gradio_api/info", "/gradio_api/openapi.json",
              "/gradio_api/upload_progress", "/gradio_api/file=/etc/hostname", "/gradio_api/proxy=http://example.com/",
              "/gradio_api/runs", "/gradio_api/startup-events", "/gradio_api/vibe-code", "/gradio_api/user",
              "/gradio_api/token", "/admin/monitoring/summary", "/admin/gradio_api/info", "/docs", "/openapi.json"]
    with httpx.Client(base_url=target.url, timeout=60) as client:
        assert {path: client.get(path).status_code for path in closed} == {path: 404 for path in closed}
        assert client.get("/").status_code == 200 and client.get("/admin/").status_code == 200


# -- 7: CSV formula injection ------------------------------------------------------------------------------------

def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def formula_cells(text: str) -> list[str]:
    """Cells of a CSV text that a spreadsheet would run as a formula (numbers like -1.0 are fine)."""
    found = []
    for cell in cells(text):
        try:
            float(cell)
        except ValueError:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                found.append(cell)
    return found


def line_break_formulas(text: str) -> list[str]:
    """Line breaks (inside a quoted cell or not) followed by what a spreadsheet would run as a formula."""
    return re.findall(r"[\r\n][=+\-@\t][^\r\n]{0,12}", text)


def test_csv_exports_neutralise_formulas(target, tmp_path):
    async def flow(client: ListenerClient):
        screen = await first_trial(client, FORMULAS[0])
        await client.fetch(screen)
        events = playback_events(screen)
        injected = [{"t": events[-1]["t"], "kind": f, "key": heard_keys(screen)[-1], "value": -1, "detail": f}
                    for f in FORMULAS]
        return await client.submit(screen, valid_answers(target, screen, 60), events + injected)

    listen(target.url, flow)
    out = tmp_path / "exports"
    assert main(["mushra", "export", str(target.test_dir), "--db", str(target.db), "--out", str(out / "r.csv"),
                 "--events", str(out / "e.csv"), "--listening", str(out / "l.csv")]) == 0
    texts = {name: (out / name).read_text() for name in ("r.csv", "e.csv", "l.csv")}
    with httpx.Client(base_url=target.url, timeout=60) as admin:
        admin_login(admin, FILE_PASSWORD)
        texts.update(zip(("admin ratings", "admin events", "admin listening"), call(admin, "export", app="/admin")[:3]))
    assert {name: formula_cells(text) for name, text in texts.items()} == {name: [] for name in texts}
    assert {"'" + f for f in FORMULAS} <= set(cells(texts["e.csv"])) & set(cells(texts["admin events"]))  # inert

    table = [{"listener": FORMULAS[i % 2], "session": 1, "trial": 1, "item": "@item", "condition": c, "rating": r,
              "phase": "test", "timestamp": "t"} for i in range(2) for c, r in
             (("reference", 40 if i else 100), ("=cond", 50), ("lowpass@7k", 60))]
    ratings_csv = tmp_path / "crafted.csv"
    with open(ratings_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    assert main(["mushra", "analyze", str(ratings_csv), "--out", str(tmp_path / "analysis"), "--no-plots"]) == 0
    written = {p.name: formula_cells(p.read_text()) for p in (tmp_path / "analysis").glob("*.csv")}
    assert {"excluded_listeners.csv", "summary.csv"} <= set(written)
    assert written == {name: [] for name in written}


def test_csv_exports_neutralise_formulas_after_line_breaks(target, tmp_path):
    async def flow(client: ListenerClient):
        screen = await client.start(LINE_BREAKS[0], headphones=LINE_BREAKS[1])
        screen = await client.skip_level(screen)
        await client.fetch(screen)
        events = playback_events(screen)
        injected = [{"t": events[-1]["t"], "kind": f, "key": "", "value": None, "detail": f} for f in LINE_BREAKS]
        return await client.submit(screen, valid_answers(target, screen, 60), events + injected)

    listen(target.url, flow)
    out = tmp_path / "exports"
    assert main(["mushra", "export", str(target.test_dir), "--db", str(target.db), "--out", str(out / "r.csv"),
                 "--events", str(out / "e.csv"), "--listeners", str(out / "p.csv")]) == 0
    texts = {name: (out / name).read_text() for name in ("e.csv", "p.csv")}
    with httpx.Client(base_url=target.url, timeout=60) as admin:
        admin_login(admin, FILE_PASSWORD)
        exported = call(admin, "export", app="/admin")
        texts.update({"admin events": exported[1], "admin listeners": exported[4]})
    assert {name: line_break_formulas(text) for name, text in texts.items()} == {name: [] for name in texts}


# -- 8: errors -----------------------------------------------------------------------------------------------------

def raw_event(client: httpx.Client, api: str, *data) -> str:
    """The whole event stream of one call, as a client sees it."""
    event_id = client.post(f"/gradio_api/call/{api}", json={"data": list(data)}).raise_for_status().json()["event_id"]
    return client.get(f"/gradio_api/call/{api}/{event_id}").text


def test_malformed_values_get_a_generic_error(target):
    with httpx.Client(base_url=target.url, timeout=60) as client:
        started = call(client, "start", *welcome("malformed"))[1]
        screen = call(client, "player", {**started, "submission": {"level": "skipped"}})[0]
        submission = {"trial": screen["trial"], "ratings": valid_answers(target, screen, 5)}
        malformed = [{**screen, "session": {"$gt": 0}, "submission": submission},
                     {**screen, "session": 2 ** 70, "submission": submission},
                     {**screen, "session": [1], "submission": submission},
                     {**screen, "token": {"a": 1}, "submission": submission},
                     {**screen, "submission": {**submission, "trial": 2 ** 80}},
                     {**screen, "submission": {**submission, "client_id": {"x": [1]}, "events": [{"t": 2 ** 90}]}},
                     {**screen, "submission": "not a submission"}]
        answers = [raw_event(client, "player", value) for value in malformed]
        odd_name = raw_event(client, "start", {"name": ["not", "a", "string"]}, None, ["y"], {"yes": 1})
    for answer in answers:
        assert not [word for word in LEAKS if word in answer.lower()], answer
        assert '"error"' in answer  # a screen with the refusal (or the generic message) on it
    assert not [word for word in LEAKS if word in odd_name.lower()] and '"screen": "level"' in odd_name
    log = target.log.read_text()
    assert "{'$gt': 0}" in log and str(2 ** 70) in log  # the details are in the server log


# -- what was right before, kept right --------------------------------------------------------------------------

def test_admin_page_needs_the_password(target):
    with httpx.Client(base_url=target.url, timeout=30) as client:
        assert client.get("/admin/config").status_code == 401
        assert client.post("/admin/login", data={"username": "admin", "password": "wrong"}).status_code == 400
        admin_login(client, FILE_PASSWORD)
        config = client.get("/admin/config")
        assert config.status_code == 200 and "Export" in config.text
        progress = call(client, "progress", app="/admin")[0]
        assert {"listener", "joined", "test", "time_min", "screening"} <= set(progress["headers"])
    with httpx.Client(base_url=target.url, timeout=30) as stranger:
        assert stranger.post("/admin/gradio_api/call/export", json={"data": []}).status_code == 401


def test_audio_urls_are_opaque(target):
    async def flow(client: ListenerClient):
        screen = await first_trial(client, "opaque")
        responses = {}
        for key in heard_keys(screen):
            responses[key] = await client.http.get(f"/mushra/audio/{key}")
        unknown = await client.http.get("/mushra/audio/unknown-key")
        traversal = await client.http.get("/mushra/audio/..%2Ftest.yaml")
        return screen, responses, unknown, traversal

    screen, responses, unknown, traversal = listen(target.url, flow)
    for response in responses.values():
        assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
        assert response.headers["cache-control"] == "no-store"
        assert not {"etag", "last-modified", "content-disposition"} & set(response.headers)
    assert len({len(r.content) for r in responses.values()}) == 1  # equal sizes: the length reveals nothing
    assert screen["reference"] not in [s["key"] for s in screen["stimuli"]]
    assert unknown.status_code == 404 and traversal.status_code == 404


def test_a_server_fault_reaches_the_client_as_a_generic_message(target):
    """A real fault inside a submission (a table gone from the database) is logged in full; the client is
    told only that nothing was saved, and nothing was: the same submission goes through once it is fixed."""
    from codecbench.listening_test.app import GENERIC_ERROR
    from codecbench.listening_test.store import SCHEMA

    async def flow(client: ListenerClient):
        screen = await first_trial(client, "fault")
        await client.fetch(screen)
        ratings = valid_answers(target, screen, 80)
        with sqlite3.connect(target.db) as conn:
            conn.execute("DROP TABLE plays")
        failed = await client.submit(screen, ratings)
        with sqlite3.connect(target.db) as conn:
            conn.executescript(SCHEMA)
        stored = rows(target.db, "SELECT COUNT(*) FROM ratings WHERE listener = ?", screen["listener"])[0][0]
        return screen, failed, stored, await client.submit(screen, ratings)

    screen, failed, stored_after_fault, retried = listen(target.url, flow)
    assert failed["error"] == GENERIC_ERROR and failed["trial"] == screen["trial"] and stored_after_fault == 0
    assert not [word for word in LEAKS + ("plays", "no such table") if word in json.dumps(failed).lower()]
    assert retried["trial"] == screen["trial"] + 1 and not retried.get("error")
    log = target.log.read_text()
    assert "no such table: plays" in log and "Traceback" in log


# -- the holes of the second review (issue 29) ------------------------------------------------------------------

def test_file_objects_in_event_data_are_refused_and_nothing_is_copied(target):
    """A Gradio file object in any event's JSON made the server copy the named file into its cache."""
    secrets_ = {"/etc/passwd": b"root:", str(target.db): b"SQLite format 3"}
    with httpx.Client(base_url=target.url, timeout=60) as client:
        started = call(client, "start", *welcome("files"))[1]
        answers = []
        for path in secrets_:
            file = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "x"}
            bodies = [("/gradio_api/call/player", {"data": [file]}),
                      ("/gradio_api/call/player", {"data": [{**started, "submission": {"events": [file]}}]}),
                      ("/gradio_api/call/start", {"data": [file, None, "", False]}),
                      ("/gradio_api/queue/join", {"data": [file], "fn_index": 0, "session_hash": "probe"})]
            for url, body in bodies:
                answers.append(client.post(url, content=json.dumps(body).replace("meta", "\\u006deta"),
                                           headers={"content-type": "application/json"}))
    assert [a.status_code for a in answers] == [400] * len(answers)
    assert all("file objects" in a.text for a in answers)
    copied = [p for p in (target.db.parent / "gradio-tmp").rglob("*") if p.is_file()
              and any(p.read_bytes().startswith(head) for head in secrets_.values())]
    assert copied == []


def test_unknown_api_names_are_not_found_without_a_traceback(target):
    with httpx.Client(base_url=target.url, timeout=60) as client:
        unknown = client.post("/gradio_api/call/no_such_api", json={"data": []})
        admin_unknown = client.post("/admin/gradio_api/call/no_such_api", json={"data": []})
        stream = client.get("/gradio_api/call/no_such_api/abc")
    assert (unknown.status_code, admin_unknown.status_code, stream.status_code) == (404, 404, 404)
    assert "no_such_api" not in target.log.read_text()


def test_admin_pages_cannot_be_framed(target):
    with httpx.Client(base_url=target.url, timeout=60) as client:
        pages = [client.get("/admin/"), client.post("/admin/login", data={"username": "admin", "password": "no"})]
        listener = client.get("/")
    for page in pages:
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "x-frame-options" not in listener.headers  # crowdsourcing platforms may show the test in a frame


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(mushra_test_dir, tmp_path):
    """From an untrusted peer (even localhost) the header is the client's own word: a guesser who varies it is
    still one address. From a configured proxy it names the client: one locked-out client locks out no other."""
    server = start_server(mushra_test_dir, tmp_path / "results.sqlite", tmp_path / "server.log",
                          ("--trusted-proxy", "127.0.0.2"))
    wrong = {"username": "admin", "password": "wrong"}
    try:
        with httpx.Client(base_url=server.url, timeout=60) as direct:
            dodged = [direct.post("/admin/login", data=wrong, headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code
                      for i in range(7)]
        proxy = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=server.url, timeout=60, transport=proxy) as proxied:
            guesser = [proxied.post("/admin/login", data=wrong, headers={"x-forwarded-for": "10.0.0.9"}).status_code
                       for _ in range(6)]
            admin = proxied.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD},
                                 headers={"x-forwarded-for": "spoofed, 10.0.0.10"})
            screen = call(proxied, "start", *welcome("behind the proxy"))[1]
    finally:
        server.stop()
    assert dodged == [400] * 5 + [429] * 2
    assert guesser == [400] * 5 + [429] and admin.status_code == 200
    assert screen["screen"] == "level"


def test_a_password_file_others_can_read_is_refused(mushra_test_dir, tmp_path, capsys):
    password = tmp_path / "password"
    password.write_text("a-long-random-password\n")
    password.chmod(0o644)
    assert main(["mushra", "serve", str(mushra_test_dir), "--db", str(tmp_path / "r.sqlite"),
                 "--admin-password-file", str(password)]) == 2
    assert f"chmod 600 {password}" in capsys.readouterr().err
