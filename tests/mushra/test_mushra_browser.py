"""The listener pages in headless Chromium: the listening rule and the keyboard on a phone-sized page from a
Prolific link that runs to the completion redirect, and a save that fails while the server is down."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from browser import (accessibility_violations, chromium_browser, needs_chromium, new_page, rate_trial, screenshot,
                     serious, skip_checks, slider, stim, wait_trial)
from mushra_helpers import start_server

from codecbench.listening_test.client import ListenerClient
from codecbench.listening_test.harness import free_port

PHONE = {"width": 390, "height": 844}
COMPLETE = "https://app.prolific.com/submissions/complete?cc=C0DE&pid={PROLIFIC_PID}"
LINK = {"PROLIFIC_PID": "5f0c2a9e7d1b", "STUDY_ID": "study42", "SESSION_ID": "sess7"}


@pytest.fixture
def chromium():
    with chromium_browser() as browser:
        yield browser


def finish_over_http(url: str) -> None:
    """The same Prolific participant on their other device (a second visit resumes them): the remaining trials."""
    async def flow():
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            client = ListenerClient(http)
            screen = await client.start(link=LINK)
            while screen["screen"] == "trial":
                await client.fetch(screen)
                screen = await client.submit(screen, {s["key"]: 50 for s in screen["stimuli"]})
            assert screen["screen"] == "done"

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        thread.submit(asyncio.run, flow()).result()


@needs_chromium
def test_phone_listener_from_prolific_keyboard_and_listening_rule(mushra_test_dir, tmp_path, chromium):
    server = start_server(mushra_test_dir, tmp_path / "results.sqlite", tmp_path / "server.log",
                          ("--completion-url", COMPLETE, "--completion-code", "C0DE"))
    try:
        page, errors = new_page(chromium, PHONE)
        query = "&".join(f"{k}={v}" for k, v in LINK.items())
        page.goto(f"{server.url}/?{query}")
        page.wait_for_selector("#mushra-start")  # the welcome page is drawn: now the name field must go
        page.wait_for_selector("#mushra-name", state="hidden")  # a Prolific participant is not asked for a name
        page.fill("#mushra-headphones input, #mushra-headphones textarea", "Phone earbuds")
        page.press("#mushra-headphones input, #mushra-headphones textarea", "Enter")  # Enter in a text field starts
        skip_checks(page)
        labels = wait_trial(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing clipped sideways
        boxes = [page.locator(slider(label)).bounding_box() for label in labels] + \
            [page.locator(stim(label)).bounding_box() for label in labels]
        assert all(0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"] for box in boxes), boxes
        screenshot(page, tmp_path, "mushra_trial_phone.png")
        violations = accessibility_violations(page)

        # unrated state and the live status are exposed to screen readers
        assert page.get_attribute(slider("A"), "aria-valuetext") == "not rated"
        assert page.get_attribute(".m-status", "aria-live") == "polite"

        # Space on a focused B plays B (not the Reference); Enter on it stops it
        page.focus(stim("B"))
        page.keyboard.press(" ")
        page.wait_for_selector(f"{stim('B')}.m-active")
        assert page.get_attribute(".m-ref", "aria-pressed") == "false"
        page.keyboard.press("Enter")
        page.wait_for_selector(f"{stim('B')}:not(.m-active)")
        position = page.inner_text(".m-time")

        # arrow keys on the slider move the slider only: no seek (the first shows where it starts: 50)
        page.focus(slider("B"))
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        assert page.input_value(slider("B")) == "52" and page.inner_text(".m-time") == position
        assert page.get_attribute(slider("B"), "aria-valuetext") == "52, Fair"

        # clicking through every stimulus and rating at once does not unlock Next: each must be heard 1 s
        page.click(".m-ref")
        for label in labels:
            page.click(stim(label))
            page.fill(slider(label), "60")
        page.click(stim(labels[-1]))  # stop
        assert page.is_disabled(".m-next")
        assert "listened to long enough" in page.inner_text(".m-status")
        unheard = [label for label in labels if not page.is_visible(f"{stim(label)}.m-played")]
        assert len(unheard) >= len(labels) - 2, unheard
        for key in [".m-ref"] + [stim(label) for label in labels]:  # now hear each for long enough
            page.click(key)
            page.wait_for_selector(f"{key}.m-played")
        page.click(stim(labels[-1]))
        page.wait_for_selector(".m-next:not([disabled])")
        page.click(".m-next")
        page.wait_for_selector("h1:has-text('Trial 1 of 5')")

        finish_over_http(server.url)  # the rest of the test, then back to the page
        page.route("https://app.prolific.com/**", lambda route: route.fulfill(status=200, body="completed"))
        page.reload()
        page.wait_for_selector("h1:has-text('Thank you')")
        assert "All 5 trials are saved" in page.inner_text(".mushra-root")
        page.fill("#m-comment", "fine on a phone")
        page.click(".m-send")
        page.wait_for_selector(".m-code:has-text('C0DE')")
        page.wait_for_url(f"https://app.prolific.com/submissions/complete?cc=C0DE&pid={LINK['PROLIFIC_PID']}")
        assert not errors, errors
    finally:
        server.stop()
    assert serious(violations) == [], violations


@needs_chromium
def test_a_save_while_the_server_is_down_is_kept_and_resent(mushra_test_dir, tmp_path, chromium):
    port, db = free_port(), tmp_path / "results.sqlite"
    server = start_server(mushra_test_dir, db, tmp_path / "server.log", port=port)
    try:
        page, errors = new_page(chromium, {"width": 1280, "height": 900})
        page.goto(server.url)
        page.click("#mushra-start")
        skip_checks(page)
        entered = dict(zip("ABCDE", (97, 33, 64, 12, 45)))
        rate_trial(page, entered)
        token = page.url.split("token=")[1]
        server.kill()  # the server goes down mid-trial
        page.click(".m-next")
        page.wait_for_selector(".m-alert:not([hidden])", timeout=40000)
        alert = page.inner_text(".m-alert")
        assert "Not saved" in alert and page.is_visible(".m-retry")
        page.wait_for_timeout(1000)
        assert page.is_visible(".m-alert") and "Training 1 of 1" in page.inner_text("h1")  # it stays
        kept = page.evaluate(f"JSON.parse(localStorage.getItem('mushra:{token}'))")
        assert kept["pending"] and sorted(kept["pending"]["ratings"].values()) == sorted(entered.values())

        server = start_server(mushra_test_dir, db, tmp_path / "server2.log", port=port)
        page.goto(f"{server.url}/?token={token}")  # the personal link: restored and resent
        page.wait_for_selector("h1:has-text('Trial 1 of 5')", timeout=60000)
        assert page.evaluate(f"localStorage.getItem('mushra:{token}')") in (None, "null") or \
            page.evaluate(f"JSON.parse(localStorage.getItem('mushra:{token}')).trial") != kept["trial"]
        assert not errors, errors
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT s.label, r.rating FROM ratings r JOIN stimuli s ON s.key = r.stimulus"))
    assert stored == entered
