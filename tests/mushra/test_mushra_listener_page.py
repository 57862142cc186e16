"""The listener-facing fixes in headless Chromium (desktop 1366x768, phone 390x844): the screened deployment
(`--require-headphones`) on a phone, the completion code at once with a Copy button, the slider's middle and
first key, the restored note, "Save again" after a server restart with a rating changed meanwhile, and the admin
page's title and screening column."""

from __future__ import annotations

import sqlite3

import pytest
from browser import chromium_browser, needs_chromium, new_page, skip_checks, slider, stim, wait_trial
from mushra_helpers import ADMIN_PASSWORD, start_server
from test_mushra_browser import LINK, finish_over_http

from codecbench.listening_test.build import Protocol, build_test
from codecbench.listening_test.events import ListeningRule
from codecbench.listening_test.harness import free_port

pytest.importorskip("pyloudnorm")
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
OUT_URL = "https://app.prolific.com/submissions/complete?cc=OUT9"


def _build(root, folder, require_headphones: bool):
    out = root / "test"
    build_test(out, stimuli=folder, items=5, training_items=1, progress=False,
               protocol=Protocol(ListeningRule(0.5), require_headphones=require_headphones))
    return out


@pytest.fixture(scope="module")
def open_test(tmp_path_factory, stimulus_folder):
    return _build(tmp_path_factory.mktemp("open"), stimulus_folder, False)


@pytest.fixture(scope="module")
def screened_test(tmp_path_factory, stimulus_folder):
    return _build(tmp_path_factory.mktemp("screened"), stimulus_folder, True)


@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser


def _focused(page) -> str:
    return page.evaluate("document.activeElement === document.body ? 'body' : document.activeElement.className")


def _overlaps(boxes: list[dict]) -> bool:
    return any(a["x"] < b["x"] + b["width"] - 1 and b["x"] < a["x"] + a["width"] - 1 and
               a["y"] < b["y"] + b["height"] - 1 and b["y"] < a["y"] + a["height"] - 1
               for i, a in enumerate(boxes) for b in boxes[i + 1:])


@needs_chromium
def test_phone_check_screen_without_skip_and_a_failed_screen_ends_with_its_own_code(screened_test, tmp_path,
                                                                                   chromium):
    db = tmp_path / "results.sqlite"
    server = start_server(screened_test, db, tmp_path / "server.log",
                          ("--screened-out-url", OUT_URL, "--screened-out-code", "OUT9"))
    try:
        page, errors = new_page(chromium, PHONE)
        page.goto(server.url)
        page.click("#mushra-start")
        page.wait_for_selector(".m-sample")
        page.wait_for_function("document.querySelector('.m-status')?.textContent === ''")
        assert page.locator(".m-skip").count() == 0  # no way around the checks
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for row in page.locator(".m-transport").all():  # play buttons keep their words; nothing overlaps
            boxes = [b.bounding_box() for b in row.locator("button, .m-check").all() if b.is_visible()]
            assert not _overlaps(boxes), boxes
        for button in (".m-sample", ".m-tone", ".m-huggins-play"):
            box = page.locator(button).bounding_box()
            assert box["width"] > 200 and box["height"] >= 44, (button, box)

        for _ in range(3):  # the left/right check: the focus goes on to what is next, never to the page
            page.click(".m-tone")
            page.click(".m-left")
            assert _focused(page) != "body"
        assert "m-huggins-play" in _focused(page)
        with sqlite3.connect(db) as conn:
            targets = [t for (t,) in conn.execute("SELECT target FROM headphone_rounds ORDER BY round")]
        for target in targets:  # every round wrong: the screen is failed
            page.click(".m-huggins-play")
            page.wait_for_selector(".m-choice:not([disabled])", timeout=20000)
            page.click(f".m-choice[data-choice='{target % 3 + 1}']")
        assert "m-sample" in _focused(page)  # after the last answer: the sample, still to be played
        page.click(".m-sample")
        page.click(".m-next")
        page.wait_for_selector("h1:has-text('Thank you')")
        text = page.inner_text(".mushra-root")
        assert "OUT9" in text and "saved" not in text and page.is_visible(".m-copy")
        assert page.get_attribute(".m-complete", "href") == OUT_URL
        page.reload()  # the same link: still screened out, never a trial
        page.wait_for_selector(".m-screened")
        assert not errors, errors
    finally:
        server.stop()


@needs_chromium
def test_prolific_desktop_slider_middle_first_key_restored_note_and_completion_at_once(open_test, tmp_path,
                                                                                      chromium):
    server = start_server(open_test, tmp_path / "results.sqlite", tmp_path / "server.log",
                          ("--completion-code", "C0DE", "--completion-url",
                           "https://app.prolific.com/submissions/complete?cc=C0DE"))
    try:
        context = chromium.new_context(viewport=DESKTOP)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        page = context.new_page()
        page.set_default_timeout(30000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{server.url}/?" + "&".join(f"{k}={v}" for k, v in LINK.items()))
        page.wait_for_selector("#mushra-start")  # the welcome page is drawn: now the name field must go
        page.wait_for_selector("#mushra-name", state="hidden")  # the platform's id names a Prolific participant
        page.click("#mushra-start")
        skip_checks(page)
        wait_trial(page)
        page.reload()  # nothing entered yet: nothing to say was restored
        wait_trial(page)
        assert page.locator(".m-restored").count() == 0

        page.click(stim("A"))
        page.wait_for_selector(f"{slider('A')}:not([disabled])")
        box = page.locator(slider("A")).bounding_box()  # a click at the middle of an unrated slider rates it
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        value = int(page.inner_text(f".m-col:has({slider('A')}) .m-value"))
        assert 45 <= value <= 55 and page.get_attribute(slider("A"), "aria-valuetext").startswith(str(value))
        page.click(stim("B"))
        page.wait_for_selector(f"{slider('B')}:not([disabled])")
        page.focus(slider("B"))  # the first key on an unrated slider shows where it starts, then moves it
        page.keyboard.press("ArrowUp")
        assert page.get_attribute(slider("B"), "aria-valuetext") == "50, Fair"
        page.keyboard.press("ArrowUp")
        assert page.input_value(slider("B")) == "51"
        page.reload()  # something entered: restored, and said so
        wait_trial(page)
        assert page.locator(".m-restored").count() == 1

        finish_over_http(server.url)
        page.route("https://app.prolific.com/**", lambda route: route.fulfill(status=200, body="completed"))
        page.reload()
        page.wait_for_selector("h1:has-text('Thank you')")
        assert page.is_visible(".m-code:has-text('C0DE')") and page.is_visible("#m-comment")  # before any answer
        assert page.get_attribute(".m-complete", "href").endswith("cc=C0DE")
        page.click(".m-copy")
        page.wait_for_selector(".m-copied:has-text('Copied')")
        assert page.evaluate("navigator.clipboard.readText()") == "C0DE"
        assert not errors, errors
    finally:
        server.stop()


@needs_chromium
def test_save_again_after_a_restart_sends_the_rating_changed_meanwhile(open_test, tmp_path, chromium):
    port, db = free_port(), tmp_path / "results.sqlite"
    server = start_server(open_test, db, tmp_path / "server.log", port=port)
    try:
        page, errors = new_page(chromium, DESKTOP)
        page.goto(server.url)
        page.click("#mushra-start")
        skip_checks(page)
        labels = wait_trial(page)
        page.click(".m-ref")
        page.wait_for_selector(".m-ref.m-played")
        for label in labels:
            page.click(stim(label))
            page.wait_for_selector(f"{slider(label)}:not([disabled])")
            page.fill(slider(label), "40")
            page.wait_for_selector(f"{stim(label)}.m-played")
        page.click(stim(labels[-1]))  # stop
        server.kill()
        page.click(".m-next")
        page.wait_for_selector(".m-alert:not([hidden])", timeout=40000)
        page.fill(slider(labels[-1]), "77")  # changed after the failed save
        server = start_server(open_test, db, tmp_path / "server2.log", port=port)
        page.click(".m-retry")
        page.wait_for_selector("h1:has-text('Trial 1 of 5')", timeout=60000)
        assert not errors, errors
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT s.label, r.rating FROM ratings r JOIN stimuli s ON s.key = r.stimulus"))
    assert stored == {**{label: 40 for label in labels}, labels[-1]: 77}


@needs_chromium
def test_admin_login_has_a_title_and_the_screening_column_is_in_view(open_test, tmp_path, chromium):
    server = start_server(open_test, tmp_path / "results.sqlite", tmp_path / "server.log", ("--no-level-check",))
    try:
        finish_over_http(server.url)
        page, errors = new_page(chromium, DESKTOP)
        page.goto(f"{server.url}/admin/")
        page.wait_for_selector("input[type=password]")
        assert page.title().startswith("Admin login")
        page.fill("input[type=text], input[name=username]", "admin")
        page.fill("input[type=password]", ADMIN_PASSWORD)
        page.keyboard.press("Enter")
        header = page.locator("#mushra-progress th:has-text('screening')").first
        header.wait_for()
        box = header.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"], box
        assert not errors, errors
    finally:
        server.stop()
