"""Helpers of the browser tests: Debian's headless Chromium driven by Playwright, a listener's actions on the
trial page, the axe-core accessibility check and the screenshots the README shows.

Screenshots go to the test's folder; with `$CODECBENCH_SCREENSHOTS` set they are also copied there (that is
how `results/mushra_*.png` are made: `CODECBENCH_SCREENSHOTS=results python -m pytest tests/mushra -k browser`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CODECBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--autoplay-policy=no-user-gesture-required"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SERIOUS = ("serious", "critical")


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)


@contextmanager
def chromium_browser() -> Iterator:
    """Debian's Chromium driven by Playwright, closed at the end of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def new_page(browser, viewport: dict[str, int]):
    """A page of `viewport` size and the list its uncaught script errors are collected in."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(30000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def stim(label: str) -> str:
    """The selector of a stimulus button."""
    return f".m-stim[data-label='{label}']"


def screenshot(page, folder: Path, name: str, full_page: bool = True) -> Path:
    """A PNG of the page in `folder` (and in `$CODECBENCH_SCREENSHOTS`, if set)."""
    path = folder / name
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("CODECBENCH_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["CODECBENCH_SCREENSHOTS"]) / name)
    return path


def accessibility_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA and best-practice violations on the page as it is now (axe-core is bundled with
    the `axe-playwright-python` package: nothing is fetched)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}}
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in Axe().run(page, options=options).response["violations"]]


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in SERIOUS]


def start(page, url: str, name: str = "", consent: bool = False) -> None:
    """Open the welcome page and press Start."""
    page.goto(url)
    page.wait_for_selector("#mushra-start")
    if name:
        page.fill("#mushra-name input, #mushra-name textarea", name)
    if consent:
        page.check("#mushra-consent input")
    page.click("#mushra-start")


def skip_checks(page) -> None:
    page.wait_for_selector(".m-skip")
    page.click(".m-skip")


def slider(label: str) -> str:
    return f"input[aria-label='rating of {label}']"


def wait_trial(page) -> list[str]:
    """Wait until the trial's audio is loaded; returns the stimulus labels."""
    page.wait_for_function("document.querySelector('.m-status')?.textContent.startsWith('Listen to and rate')")
    return page.eval_on_selector_all(".m-stim[data-label]", "els => els.map(e => e.dataset.label)")


def rate_trial(page, values: dict[str, int], keyboard: bool = False) -> None:
    """Listen to the Reference and every stimulus as long as the listening rule asks (by click, or by its
    key) and set its slider; checks the locks on the way."""
    labels = wait_trial(page)
    assert labels == list(values)
    assert page.is_disabled(".m-next")
    assert all(page.is_disabled(slider(label)) for label in labels)
    page.click(".m-ref")
    page.wait_for_selector(".m-ref.m-played")
    for label, value in values.items():
        if keyboard:
            page.locator("h1").focus()
            page.keyboard.press(label.lower())
        else:
            page.click(f".m-stim[data-label='{label}']")
        page.wait_for_selector(f"{slider(label)}:not([disabled])")
        others = [slider(o) for o in labels if o != label]
        assert all(page.is_disabled(o) for o in others)  # only the slider of the stimulus heard is enabled
        page.fill(slider(label), str(value))
        assert page.inner_text(f".m-col:has({slider(label)}) .m-value") == str(value)
        page.wait_for_selector(f".m-stim[data-label='{label}'].m-played")  # heard long enough
    page.wait_for_selector(".m-next:not([disabled])")
