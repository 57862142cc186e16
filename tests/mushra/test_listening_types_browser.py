"""The ACR, CCR and A/B listener pages in headless Chromium (one browser for the module): the listening rule, the
keyboard, the labelled answers, a trial restored after a reload, a phone-sized page, and what reaches the
database."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from browser import (accessibility_violations, chromium_browser, needs_chromium, new_page, screenshot, serious,
                     skip_checks, start, stim)
from mushra_helpers import start_server

from codecbench.listening_test.client import ListenerClient

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser


def wait_ready(page) -> None:
    page.wait_for_function("document.querySelector('.m-status')?.textContent.startsWith('Listen to every recording')")


def hear(page, selector: str) -> None:
    """Play one stimulus until the listening rule counts it as heard, then stop it."""
    page.click(selector)
    page.wait_for_selector(f"{selector}.m-played")
    page.click(selector)
    page.wait_for_selector(f"{selector}:not(.m-active)")


def stored(db, query: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, args).fetchall()


def finish_over_http(url: str, token: str, answer) -> None:
    """The listener's remaining trials over HTTP (their personal link resumes them), answered by `answer(screen)`."""
    async def flow():
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            client = ListenerClient(http)
            screen = await client.resume(token)
            while screen["screen"] == "trial":
                await client.fetch(screen)
                screen = await client.submit(screen, answer(screen))
            assert screen["screen"] == "done", screen

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        thread.submit(asyncio.run, flow()).result()


@needs_chromium
def test_acr_by_keyboard_with_a_reload_on_a_desktop(typed_test_dir, tmp_path, chromium):
    db = tmp_path / "results.sqlite"
    server = start_server(typed_test_dir("acr"), db, tmp_path / "server.log")
    try:
        page, errors = new_page(chromium, DESKTOP)
        start(page, server.url)
        skip_checks(page)
        wait_ready(page)
        assert page.inner_text("h1") == "Training 1 of 3"
        assert page.inner_text(".m-choice legend") == "Quality of the speech"
        options = page.eval_on_selector_all(".m-choice label", "els => els.map(e => e.textContent.trim())")
        assert options == ["5 Excellent", "4 Good", "3 Fair", "2 Poor", "1 Bad"]
        assert page.query_selector(".m-ref") is None and page.is_disabled(".m-next")
        screenshot(page, tmp_path, "acr_trial.png")
        violations = accessibility_violations(page)

        # the letter A plays the recording, again stops it; the answer is chosen with the arrow keys
        page.locator("h1").focus()
        page.keyboard.press("a")
        page.wait_for_selector(f"{stim('A')}.m-active")
        page.wait_for_selector(f"{stim('A')}.m-played")
        page.locator("h1").focus()
        page.keyboard.press("a")
        page.wait_for_selector(f"{stim('A')}:not(.m-active)")
        page.focus("#m-choice-0")
        page.keyboard.press(" ")  # 5 Excellent
        page.keyboard.press("ArrowDown")  # 4 Good
        assert page.is_checked("#m-choice-1")
        page.wait_for_selector(".m-next:not([disabled])")
        page.focus(".m-next")
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:has-text('Training 2 of 3')")
        assert stored(db, "SELECT rating FROM ratings WHERE trial = 1") == [(4,)]

        # an answer entered before a reload is restored with the play log; Next needs the recording heard
        wait_ready(page)
        page.check("#m-choice-3")  # 2 Poor
        assert page.is_disabled(".m-next")
        page.reload()
        wait_ready(page)
        assert page.is_checked("#m-choice-3") and page.is_visible(".m-restored")
        hear(page, stim("A"))
        page.click(".m-next")
        page.wait_for_selector("h1:has-text('Training 3 of 3')")
        assert stored(db, "SELECT rating FROM ratings WHERE trial = 2") == [(2,)]
        assert not errors, errors
    finally:
        server.stop()
    assert serious(violations) == [], violations


@needs_chromium
def test_ab_with_reference_on_a_phone(typed_test_dir, tmp_path, chromium):
    db = tmp_path / "results.sqlite"
    server = start_server(typed_test_dir("ab"), db, tmp_path / "server.log")
    try:
        page, errors = new_page(chromium, PHONE)
        start(page, server.url)
        skip_checks(page)
        wait_ready(page)
        assert page.inner_text(".m-choice legend") == "Which one sounds closer to the Reference?"
        options = page.eval_on_selector_all(".m-choice label", "els => els.map(e => e.textContent.trim())")
        assert options == ["A is better", "B is better", "No preference"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing clipped sideways
        boxes = [page.locator(s).bounding_box() for s in (".m-ref", stim("A"), stim("B"), "#m-choice-2", ".m-next")]
        assert all(0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"] for box in boxes), boxes
        assert all(box["height"] >= 44 for box in boxes[:3]), boxes  # touch targets
        screenshot(page, tmp_path, "ab_trial_phone.png")
        violations = accessibility_violations(page)

        page.click("label[for='m-choice-1']")  # B is better, before listening: Next stays locked
        for selector in (".m-ref", stim("A")):
            hear(page, selector)
        assert page.is_disabled(".m-next")  # B not heard yet
        hear(page, stim("B"))
        page.click(".m-next")
        page.wait_for_selector("h1:has-text('Trial 1 of 5')")
        answer = dict(stored(db, "SELECT s.label, r.rating FROM ratings r JOIN stimuli s ON s.key = r.stimulus"))
        assert answer == {"A": 0, "B": 100}
        assert not errors, errors
    finally:
        server.stop()
    assert serious(violations) == [], violations


@needs_chromium
def test_ab_forced_choice_without_reference_balances_the_order(typed_test_dir, tmp_path, chromium):
    db = tmp_path / "results.sqlite"
    server = start_server(typed_test_dir("ab-forced"), db, tmp_path / "server.log", ("--no-level-check",))
    try:
        page, errors = new_page(chromium, DESKTOP)
        start(page, server.url)
        wait_ready(page)
        options = page.eval_on_selector_all(".m-choice label", "els => els.map(e => e.textContent.trim())")
        assert options == ["A is better", "B is better"] and page.query_selector(".m-ref") is None
        assert page.inner_text(".m-choice legend") == "Which one sounds better?"
        hear(page, stim("A"))
        hear(page, stim("B"))
        page.check("#m-choice-0")
        page.click(".m-next")
        page.wait_for_selector("h1:has-text('Trial 1 of 5')")
        token = page.url.split("token=")[1]
        assert not errors, errors
        finish_over_http(server.url, token, lambda screen: dict(zip([s["key"] for s in screen["stimuli"]], (0, 100))))
    finally:
        server.stop()
    sides = stored(db, "SELECT s.condition, COUNT(*) FROM stimuli s JOIN trials t USING (listener, trial) "
                   "WHERE s.label = 'A' AND t.phase = 'test' GROUP BY s.condition")
    assert sorted(n for _, n in sides) == [2, 3]  # each condition is A on half of the 5 items (one more on odd)


@needs_chromium
def test_ccr_answer_by_keyboard_is_stored_for_both_sides(typed_test_dir, tmp_path, chromium):
    db = tmp_path / "results.sqlite"
    server = start_server(typed_test_dir("ccr"), db, tmp_path / "server.log", ("--no-level-check",))
    try:
        page, errors = new_page(chromium, DESKTOP)
        start(page, server.url)
        wait_ready(page)
        assert page.inner_text(".m-choice legend") == "The quality of B compared with the quality of A is:"
        options = page.eval_on_selector_all(".m-choice label", "els => els.map(e => e.textContent.trim())")
        assert options[0] == "+3 Much better" and options[3] == "0 About the same" and len(options) == 7
        hear(page, stim("A"))
        hear(page, stim("B"))
        page.focus("#m-choice-0")
        page.keyboard.press(" ")  # +3 Much better
        for _ in range(5):
            page.keyboard.press("ArrowDown")  # to -2 Worse
        assert page.is_checked("#m-choice-5")
        page.click(".m-next")
        page.wait_for_selector("h1:has-text('Training 2 of 3')")
        answer = dict(stored(db, "SELECT s.label, r.rating FROM ratings r JOIN stimuli s ON s.key = r.stimulus"))
        assert answer == {"A": 5, "B": 1}  # B against A: -2, stored as 3 + 2 for A and 3 - 2 for B
        assert not errors, errors
    finally:
        server.stop()
