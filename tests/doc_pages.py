"""Documentation pages that other branches of this stop add; tests that read them wait for them by this list.

While a page here is absent, links to it are listed rather than failed (tests/test_doc_links.py) and tests that
execute its examples skip. Once it exists it is checked like any other. Empty this set when all have landed."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PENDING_PAGES = {"docs/diffusion.md", "docs/metric-validity.md"}


def read_page(name: str) -> str:
    """The text of a documentation page; a skip while a pending page has not landed."""
    path = REPO / name
    if not path.exists() and name in PENDING_PAGES:
        pytest.skip(f"{name} has not landed yet (tests/doc_pages.py: PENDING_PAGES)")
    return path.read_text()
