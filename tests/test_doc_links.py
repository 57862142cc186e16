"""Every local link in README.md, CHANGELOG.md, results/README.md and docs/*.md resolves: the file exists and, where the link
names an anchor, the target page has a heading with that GitHub slug. Pure text, no network."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def pages() -> list[Path]:
    """The Markdown pages whose links are checked."""
    found = [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "results" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return [page for page in found if page.exists()]


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (links there are examples, not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text lower-cased, punctuation other than `-` and `_` dropped,
    spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stands for the link
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page, numbered as GitHub numbers repeated headings (`name`, `name-1`, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for match in HEADING.finditer(FENCE.sub("", page.read_text())):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def local_links(page: Path) -> list[str]:
    """The link targets of a page that point into the repository (not web addresses)."""
    targets = [m.group(1) for m in LINK.finditer(prose(page.read_text()))]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def check(page: Path, root: Path = REPO) -> list[str]:
    """The broken links of one page of the tree at root."""
    broken = []
    label = page.relative_to(root).as_posix() if page.is_relative_to(root) else page.name
    for target in local_links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{label}: {target}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{label}: {target} (no heading with this anchor)")
    return broken


def test_slug_follows_github():
    assert slug("Engines: local processes or a Ray cluster (`--engine`)") == "engines-local-processes-or-a-ray-cluster---engine"
    assert slug("MUSHRA listening tests (ITU-R BS.1534-3)") == "mushra-listening-tests-itu-r-bs1534-3"
    assert slug("Reports (`codecbench report`)") == "reports-codecbench-report"
    assert slug("What a run writes (`--out DIR`)") == "what-a-run-writes---out-dir"


def test_checker_finds_broken_links(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## Real section\n")
    page.write_text("# Page\n\nSee [a](other.md#real-section), [b](other.md#gone), [c](missing.md), [d](#page),\n"
                    "[e](#nowhere), [web](https://example.org/x.md) and `[f](code.md)`.\n\n```\n[g](fenced.md)\n```\n")
    assert local_links(page) == ["other.md#real-section", "other.md#gone", "missing.md", "#page", "#nowhere"]
    assert anchors(tmp_path / "other.md") == {"other", "real-section"}
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("[p](diffusion.md) [q](plugins.md#x) [r](../page.md#page)\n")
    assert check(page, tmp_path) == ["page.md: other.md#gone (no heading with this anchor)", "page.md: missing.md",
                                     "page.md: #nowhere (no heading with this anchor)"]
    assert check(tmp_path / "docs" / "index.md", tmp_path) == ["docs/index.md: diffusion.md", "docs/index.md: plugins.md#x"]


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_local_links_resolve(page):
    broken = check(page)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_contents_lists_every_section():
    """The README's contents list links every H2 and H3 heading below it, in order."""
    text = FENCE.sub("", (REPO / "README.md").read_text())
    contents = text.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\s*- \[[^\]]+\]\(#([^)]+)\)", contents, re.M)
    sections = [slug(m.group(2)) for m in HEADING.finditer(text) if len(m.group(1)) in (2, 3)]
    assert listed == [s for s in sections if s != "contents"]
