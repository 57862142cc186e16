"""End to end in headless Chromium (Debian's, driven by Playwright): a listener does the level and
headphone check, the training and two test trials; the ratings land in SQLite; the export matches."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from mushra_helpers import ADMIN_PASSWORD, start_server

from codecbench.cli import main

CHROMIUM = Path(os.environ.get("CODECBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--autoplay-policy=no-user-gesture-required"]
SECRETS = ("opus@12", "codec2@2.4", "lowpass@", ".wav", "stimuli/")


def rate_trial(page, values: dict[str, int], keyboard: bool = False) -> None:
    """Play every stimulus (by click, or by its key) and set its slider; checks the locks on the way."""
    page.wait_for_function("document.querySelector('.m-status')?.textContent.startsWith('Play and rate')")
    labels = page.eval_on_selector_all(".m-stim[data-label]", "els => els.map(e => e.dataset.label)")
    assert labels == list(values)
    assert page.is_disabled(".m-next")
    assert all(page.is_disabled(f"input[aria-label='rating of {label}']") for label in labels)
    page.click(".m-ref")
    for label, value in values.items():
        if keyboard:
            page.keyboard.press(label.lower())
        else:
            page.click(f".m-stim[data-label='{label}']")
        slider = f"input[aria-label='rating of {label}']"
        page.wait_for_selector(f"{slider}:not([disabled])")
        others = [f"input[aria-label='rating of {o}']" for o in labels if o != label]
        assert all(page.is_disabled(o) for o in others)  # only the slider of the stimulus heard is enabled
        page.fill(slider, str(value))
        assert page.inner_text(f".m-col:has({slider}) .m-value") == str(value)
    page.wait_for_selector(".m-next:not([disabled])")


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_listener_completes_training_and_two_trials(mushra_test_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    db = tmp_path / "results.sqlite"
    server = start_server(mushra_test_dir, db, tmp_path / "server.log")
    audio_urls: list[str] = []
    refused: list[str] = []  # requests the server's gate (or anything else) turned down
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(30000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda response: refused.append(f"{response.status} {response.url}")
                    if response.status >= 400 else None)
            page.on("request", lambda request: audio_urls.append(request.url) if "/mushra/audio/" in request.url
                    else None)
            page.goto(server.url)
            page.fill("#mushra-name input, #mushra-name textarea", "Ada")
            page.click("#mushra-start")

            page.wait_for_selector(".m-sample")
            page.wait_for_function("document.querySelector('.m-status')?.textContent === ''")
            assert page.is_disabled(".m-next")
            page.click(".m-sample")
            for _ in range(3):  # the headphone check: answer three tones
                page.click(".m-tone")
                page.click(".m-left")
            page.click(".m-sample")
            page.click(".m-next")

            entered = {}
            page.wait_for_selector("h2:has-text('Training 1 of 1')")
            entered[1] = dict(zip("ABCDE", (95, 30, 62, 48, 12)))
            canvas = page.locator(".m-wave").bounding_box()
            rate_trial(page, entered[1])
            page.mouse.move(canvas["x"] + 100, canvas["y"] + 40)  # drag on the waveform: a loop region
            page.mouse.down()
            page.mouse.move(canvas["x"] + 400, canvas["y"] + 40, steps=5)
            page.mouse.up()
            page.keyboard.press("Enter")

            page.wait_for_selector("h2:has-text('Trial 1 of 5')")
            assert "training is over" in page.inner_text(".m-notice").lower()
            entered[2] = dict(zip("ABCDE", (100, 21, 77, 54, 8)))
            rate_trial(page, entered[2], keyboard=True)
            page.screenshot(path=str(tmp_path / "mushra_trial.png"), full_page=True)
            html = page.content()
            page.click(".m-next")

            page.wait_for_selector("h2:has-text('Trial 2 of 5')")
            entered[3] = dict(zip("ABCDE", (3, 99, 45, 70, 66)))
            rate_trial(page, entered[3])
            page.click(".m-next")
            page.wait_for_selector("h2:has-text('Trial 3 of 5')")

            token = page.url.split("token=")[1]
            page.goto(f"{server.url}/?token={token}")  # a reload resumes at the same trial
            page.wait_for_selector("h2:has-text('Trial 3 of 5')")
            assert not errors, errors

            admin = browser.new_page(accept_downloads=True)  # the admin saves the ratings from the page
            admin.set_default_timeout(30000)
            admin.goto(f"{server.url}/admin/")
            admin.fill("input[type=text]", "admin")
            admin.fill("input[type=password]", ADMIN_PASSWORD)
            admin.keyboard.press("Enter")
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
    assert not refused, refused
    assert not any(secret in html for secret in SECRETS)
    assert audio_urls and not any(secret in url for url in audio_urls for secret in SECRETS)

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT r.trial, s.label, r.rating, r.phase FROM ratings r JOIN stimuli s "
                            "ON s.key = r.stimulus").fetchall()
        check = conn.execute("SELECT headphone_check, name FROM listeners").fetchone()
        kinds = {k for (k,) in conn.execute("SELECT DISTINCT kind FROM events")}
    assert {(t, label): rating for t, label, rating, _ in rows} == {
        (t, label): v for t, values in entered.items() for label, v in values.items()}
    assert {t: phase for t, _, _, phase in rows} == {1: "training", 2: "test", 3: "test"}
    assert check[0].startswith("level set; headphone check") and check[1] == "Ada"
    assert {"play", "switch", "rate", "rate_move", "loop", "next"} <= kinds

    out = tmp_path / "ratings.csv"
    assert main(["mushra", "export", str(mushra_test_dir), "--db", str(db), "--out", str(out),
                 "--events", str(tmp_path / "events.csv")]) == 0
    exported = pd.read_csv(out)
    assert exported.columns.tolist() == ["listener", "session", "trial", "item", "condition", "rating", "phase",
                                         "timestamp"]
    assert sorted(exported["rating"]) == sorted(r for _, _, r, _ in rows)
    assert set(exported["condition"]) == {"reference", "lowpass@3.5k", "lowpass@7k", "opus@12", "codec2@2.4"}
    assert (exported["listener"] == "L001").all() and len(exported) == 15
    assert saved == out.read_text()  # the admin page's file is the command's file
