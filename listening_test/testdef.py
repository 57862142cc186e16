"""A built MUSHRA test folder: `test.yaml`, `stimuli/`, `loudness.csv` and the `SHA256SUMS` that seals them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.listening_test.events import DEFAULT_MIN_PLAY_S, ListeningRule
from codecbench.resources import file_digest

FORMAT = "codecbench-mushra-test/1"
TEST_YAML = "test.yaml"
CHECKSUMS = "SHA256SUMS"
LOUDNESS_CSV = "loudness.csv"
STIMULI_DIR = "stimuli"
REFERENCE = "reference"
MAX_STIMULI = 12  # per trial, hidden reference and anchors included
RATINGS_COLUMNS = ["listener", "session", "trial", "item", "condition", "rating", "phase", "timestamp"]  # ratings.csv
PHASES = ("training", "test")


@dataclass(frozen=True)
class TestItem:
    """One item (an excerpt) and its stimuli.

    Args:
        item: the item id (the source utterance id).
        speaker: the talker.
        phase: `training` or `test`.
        stimuli: condition -> stimulus file, relative to the test folder.
    """

    item: str
    speaker: str
    phase: str
    stimuli: dict[str, str]


@dataclass(frozen=True)
class MushraTest:
    """A loaded test folder.

    Args:
        root: the folder.
        name: the test's name.
        conditions: every condition, hidden reference and anchors included.
        training: the items of the training phase.
        items: the test items.
        digest: sha256 of `SHA256SUMS`, naming this exact test.
        spec: the parsed `test.yaml`.
    """

    root: Path
    name: str
    conditions: list[str]
    training: list[TestItem]
    items: list[TestItem]
    digest: str
    spec: dict[str, Any]

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def rule(self) -> ListeningRule:
        """The listening rule the test was built with (the default for tests built before there was one)."""
        return ListeningRule(float((self.spec.get("listening") or {}).get("min_play_s", DEFAULT_MIN_PLAY_S)))

    @property
    def texts(self) -> dict[str, Any]:
        """What listeners read (sealed in `test.yaml`; the English defaults for tests built without)."""
        from codecbench.listening_test.texts import load_texts

        return self.spec.get("texts") or load_texts(None)

    @property
    def mid_anchor(self) -> str | None:
        """The mid anchor's condition (None: a test without anchors)."""
        return (self.spec.get("anchors") or {}).get("mid")

    @property
    def require_headphones(self) -> bool:
        """Built with `--require-headphones`: no skipping the checks, and a failed headphone screen ends the test."""
        return bool((self.spec.get("screening") or {}).get("require_headphones", False))

    @property
    def traps(self) -> dict[str, int]:
        """Test item -> the rating its trap stimulus asks for (empty: a test without traps)."""
        return {str(k): int(v) for k, v in ((self.spec.get("traps") or {}).get("items") or {}).items()}

    def duration_s(self, item: str) -> float:
        """The length of an item's excerpt."""
        entry = next(e for e in (self.spec.get("items") or []) + (self.spec.get("training") or [])
                     if str(e["item"]) == item)
        return entry["frames"] / entry["sample_rate"]


def write_checksums(root: Path) -> str:
    """Write `SHA256SUMS` (sha256sum format) over every file of the folder; returns the test digest."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != CHECKSUMS)
    text = "".join(f"{file_digest(p)}  {p.relative_to(root).as_posix()}\n" for p in files)
    (root / CHECKSUMS).write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_checksums(root: Path) -> str:
    """Check every file listed in `SHA256SUMS`; returns the test digest.

    Raises:
        ValueError: a file is missing or differs from what `build` wrote.
    """
    sums = root / CHECKSUMS
    if not sums.exists():
        raise ValueError(f"{root} has no {CHECKSUMS}: not a test folder written by `codecbench mushra build`")
    text = sums.read_text()
    bad = []
    for line in text.splitlines():
        expected, relative = line.split("  ", 1)
        path = root / relative
        if not path.exists():
            bad.append(f"{relative} (missing)")
        elif file_digest(path) != expected:
            bad.append(f"{relative} (changed)")
    if bad:
        raise ValueError(f"{root} does not match its {CHECKSUMS}: {', '.join(bad[:5])}"
                         + (f" and {len(bad) - 5} more" if len(bad) > 5 else "") + "; rebuild the test")
    return hashlib.sha256(text.encode()).hexdigest()


def load_test(root: str | Path, verify: bool = True) -> MushraTest:
    """Read a test folder, checking its checksums first (unless `verify` is False).

    Raises:
        FileNotFoundError: no `test.yaml` in `root`.
        ValueError: a checksum mismatch or a `test.yaml` of another format.
    """
    import yaml

    root = Path(root)
    if not (root / TEST_YAML).exists():
        raise FileNotFoundError(f"{root / TEST_YAML} not found: build a test with `codecbench mushra build`")
    digest = verify_checksums(root) if verify else ""
    spec = yaml.safe_load((root / TEST_YAML).read_text())
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"{root / TEST_YAML} is not a {FORMAT} file")

    def items(key: str, phase: str) -> list[TestItem]:
        return [TestItem(str(e["item"]), str(e["speaker"]), phase,
                         {c: s["file"] for c, s in e["stimuli"].items()}) for e in spec.get(key) or []]

    return MushraTest(root, spec["name"], list(spec["conditions"]), items("training", "training"),
                      items("items", "test"), digest, spec)
