"""End to end in headless Chromium (Debian's, driven by Playwright): a listener does the level, left/right and
Huggins-pitch headphone checks, the training and two test trials; the ratings land in SQLite; the export matches."""

from __future__ import annotations

import sqlite3

import pandas as pd
from browser import accessibility_violations, launch, needs_chromium, rate_trial, screenshot, serious
from mushra_helpers import ADMIN_PASSWORD, start_server

from codecbench.cli import main

SECRETS = ("opus@12", "codec2@2.4", "lowpass@", ".wav", "stimuli/")


@needs_chromium
def test_listener_completes_checks_training_and_two_trials(mushra_test_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    db = tmp_path / "results.sqlite"
    server = start_server(mushra_test_dir, db, tmp_path / "server.log")
    audio_urls: list[str] = []
    refused: list[str] = []  # requests the server's gate (or anything else) turned down
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda response: refused.append(f"{response.status} {response.url}")
                    if response.status >= 400 else None)
            page.on("request", lambda request: audio_urls.append(request.url) if "/mushra/audio/" in request.url
                    else None)
            page.goto(server.url)
            page.fill("#mushra-name input, #mushra-name textarea", "Ada")
            page.click("#mushra-expertise label:has-text('expert')")
            page.fill("#mushra-headphones input, #mushra-headphones textarea", "Sennheiser HD 650")
            page.click("#mushra-start")

            page.wait_for_selector(".m-sample")
            page.wait_for_function("document.querySelector('.m-status')?.textContent === ''")
            assert page.is_disabled(".m-next")
            page.click(".m-sample")
            for _ in range(3):  # the left/right check: answer three tones
                page.click(".m-tone")
                page.click(".m-left")
            page.click(".m-sample")
            assert page.is_disabled(".m-next")  # the headphone screen comes first
            targets = [t for (t,) in rows(db, "SELECT target FROM headphone_rounds WHERE listener = 'L001' ORDER BY round")]
            chosen = targets[:5] + [targets[5] % 3 + 1]  # five rounds right, the last one wrong
            for round_, choice in enumerate(chosen):
                page.click(".m-huggins-play")
                page.wait_for_selector(".m-choice:not([disabled])", timeout=20000)  # after the whole sound
                if round_ == 2:
                    screenshot(page, tmp_path, "mushra_headphones.png")
                    check_violations = accessibility_violations(page)
                page.click(f".m-choice[data-choice='{choice}']")
            page.wait_for_selector(".m-next:not([disabled])")
            page.click(".m-next")

            entered = {}
            page.wait_for_selector("h1:has-text('Training 1 of 1')")
            trial_violations = accessibility_violations(page)
            entered[1] = dict(zip("ABCDE", (95, 30, 62, 48, 12)))
            canvas = page.locator(".m-wave").bounding_box()
            rate_trial(page, entered[1])
            page.mouse.move(canvas["x"] + 100, canvas["y"] + 40)  # drag on the waveform: a loop region
            page.mouse.down()
            page.mouse.move(canvas["x"] + 400, canvas["y"] + 40, steps=5)
            page.mouse.up()
            page.keyboard.press("Enter")

            page.wait_for_selector("h1:has-text('Trial 1 of 5')")
            assert "training is over" in page.inner_text(".m-notice").lower()
            entered[2] = dict(zip("ABCDE", (100, 21, 77, 54, 8)))
            rate_trial(page, entered[2], keyboard=True)
            screenshot(page, tmp_path, "mushra_trial.png")
            html = page.content()
            page.click(".m-next")

            page.wait_for_selector("h1:has-text('Trial 2 of 5')")
            assert "null" not in page.inner_text(".mushra-root")
            entered[3] = dict(zip("ABCDE", (3, 99, 45, 70, 66)))
            rate_trial(page, entered[3])
            page.click(".m-next")
            page.wait_for_selector("h1:has-text('Trial 3 of 5')")

            token = page.url.split("token=")[1]
            page.goto(f"{server.url}/?token={token}")  # a reload resumes at the same trial
            page.wait_for_selector("h1:has-text('Trial 3 of 5')")
            assert not errors, errors

            admin = browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 900})
            admin.set_default_timeout(30000)  # the admin saves the ratings from the page
            admin.goto(f"{server.url}/admin/")
            admin.fill("input[type=text]", "admin")
            admin.fill("input[type=password]", ADMIN_PASSWORD)
            admin.keyboard.press("Enter")
            admin.wait_for_function("document.querySelector('#mushra-progress')?.innerText.includes('L001')")
            progress = admin.inner_text("#mushra-progress")
            assert "headphones 5/6" in progress and "Ada" in progress
            assert admin.evaluate("document.documentElement.scrollWidth") <= 1280  # no column cut off the page
            screenshot(admin, tmp_path, "mushra_admin.png")
            admin.fill("#mushra-lookup input, #mushra-lookup textarea", "L001")
            admin.keyboard.press("Enter")
            admin.wait_for_function(f"document.querySelector('#mushra-link')?.innerText.includes('{token}')")
            admin.click("#mushra-export")
            admin.wait_for_selector("#mushra-fetched:has-text('Fetched at')")
            with admin.expect_download() as download:
                admin.click("#mushra-save-ratings")
            saved = download.value.path().read_text()
            assert download.value.suggested_filename.startswith("ratings-")
            browser.close()
    finally:
        server.stop()

    assert (tmp_path / "mushra_trial.png").read_bytes()[:4] == b"\x89PNG"
    assert serious(check_violations) == [] and serious(trial_violations) == [], (check_violations, trial_violations)
    assert not refused, refused
    assert not any(secret in html for secret in SECRETS)
    assert audio_urls and not any(secret in url for url in audio_urls for secret in SECRETS)

    stored = rows(db, "SELECT r.trial, s.label, r.rating, r.phase FROM ratings r JOIN stimuli s ON s.key = r.stimulus")
    check = rows(db, "SELECT headphone_check, name FROM listeners")[0]
    kinds = {k for (k,) in rows(db, "SELECT DISTINCT kind FROM events")}
    assert {(t, label): rating for t, label, rating, _ in stored} == {
        (t, label): v for t, values in entered.items() for label, v in values.items()}
    assert {t: phase for t, _, _, phase in stored} == {1: "training", 2: "test", 3: "test"}
    assert check[0].startswith("level set; headphone check") and check[1] == "Ada"
    assert {"play", "switch", "rate", "rate_move", "loop", "next"} <= kinds
    assert rows(db, "SELECT answer FROM headphone_rounds WHERE listener = 'L001' ORDER BY round") == [(c,) for c in chosen]
    plays = rows(db, "SELECT p.play_ms FROM plays p JOIN stimuli s ON s.key = p.stimulus WHERE s.trial > 0")
    assert len(plays) == 18 and min(ms for (ms,) in plays) >= 1000  # the listening rule held for every stimulus

    out = tmp_path / "ratings.csv"
    assert main(["mushra", "export", str(mushra_test_dir), "--db", str(db), "--out", str(out),
                 "--events", str(tmp_path / "events.csv")]) == 0
    exported = pd.read_csv(out)
    assert exported.columns.tolist() == ["listener", "session", "trial", "item", "condition", "rating", "phase",
                                         "timestamp"]
    assert sorted(exported["rating"]) == sorted(r for _, _, r, _ in stored)
    assert set(exported["condition"]) == {"reference", "lowpass@3.5k", "lowpass@5k", "opus@12", "codec2@2.4"}
    assert (exported["listener"] == "L001").all() and len(exported) == 15
    assert saved == out.read_text()  # the admin page's file is the command's file

    assert main(["mushra", "export", str(mushra_test_dir), "--db", str(db), "--out", str(out),
                 "--listeners", str(tmp_path / "listeners.csv"), "--trials", str(tmp_path / "trials.csv")]) == 0
    listener = pd.read_csv(tmp_path / "listeners.csv").iloc[0]
    assert listener["expertise"].startswith("expert") and listener["headphones"] == "Sennheiser HD 650"
    assert (listener["huggins_correct"], listener["huggins_rounds"], listener["huggins_passed"]) == (5, 6, True)
    trials = pd.read_csv(tmp_path / "trials.csv")
    done = trials[trials["submitted"].notna()]
    assert len(done) == 3 and (done["least_heard_s"] >= 1.0).all() and (done["stimuli"] == 6).all()
    assert (done["duration_s"] >= done["listening_s"] / 1.0 - 0.5).all() and (done["required_s"] == 1.0).all()
    assert (done["timing"] == "ok").all() and (done["wall_s"] >= done["least_wall_s"]).all()  # the server's clock agrees


def rows(db, query: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()
