"""`codecbench mushra build --type acr|dcr|ccr|ab`: a MUSHRA build of the same stimuli, then the type sealed into
test.yaml.

The stimuli come from the same sources as MUSHRA (a run, re-coded; or a folder `<item>/<condition>.wav`) and are
cut, loudness-aligned and checked by `build.build_test` itself, so the conditions carry the same labels. The type
then adds its section to `test.yaml` (`type: acr` with `acr:`, and so on for `dcr`, `ccr` and `ab`), puts its own
welcome and instructions in the texts (unless the researcher gave texts), and re-seals the folder (`SHA256SUMS`).
Traps (spoken "rate this zero / one hundred") are MUSHRA's and are not added; ACR's, DCR's and CCR's gold clips
are the reference (against itself).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from codecbench.listening_test.build import BuildResult, Protocol, build_test
from codecbench.listening_test.testdef import REFERENCE, TEST_YAML, write_checksums
from codecbench.listening_test.types import MUSHRA, type_name
from codecbench.listening_test.types import ab, acr, ccr, dcr


def parse_pairs(text: str | None) -> list[tuple[str, str]] | None:
    """`A:B,C:D` (or a file with one `A:B` or `A,B` per line) -> [(A, B), (C, D)] (None: every pair).

    Raises:
        ValueError: an entry that is not two conditions.
    """
    if not text:
        return None
    path = Path(text)
    entries = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")] \
        if path.is_file() else text.split(",")
    pairs = []
    for entry in entries:
        parts = [p.strip() for p in entry.replace(",", ":").split(":") if p.strip()] if path.is_file() else \
            [p.strip() for p in entry.split(":")]
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"--pairs entry {entry.strip()!r} is not two conditions (A:B)")
        pairs.append((parts[0], parts[1]))
    return pairs


def build_typed_test(kind: str, out: str | Path, pairs: list[tuple[str, str]] | None = None,
                     ab_reference: bool = False, no_preference: bool = True,
                     protocol: Protocol = Protocol(), texts_given: bool = False, **build: Any) -> BuildResult:
    """Build a test of type `kind` (`mushra`: exactly `build_test`).

    Args:
        kind: `mushra`, `acr`, `dcr`, `ccr` or `ab`.
        out: the test folder.
        pairs: A/B only: the pairs to compare (default: every pair of the tested conditions, reference and anchors
            left out).
        ab_reference: A/B only: show the reference beside A and B (asks which is closer to it).
        no_preference: A/B only: offer "no preference" (else a forced choice).
        protocol: as for `build_test` (its traps are MUSHRA's: not used by the other types).
        texts_given: the researcher's own texts are in `protocol.texts` (else the type's wording is used).
        **build: the other arguments of `build_test`.

    Raises:
        ValueError: an unknown type, or pairs naming conditions the test does not have.
    """
    type_name({"type": kind})
    if kind == MUSHRA:
        return build_test(out, protocol=protocol, **build)
    result = build_test(out, protocol=dataclasses.replace(protocol, traps=0), **build)
    result.warnings[:] = [w for w in result.warnings if not _mushra_only(w)]
    try:
        _seal_type(Path(result.out), kind, pairs, ab_reference, no_preference, texts_given)
    except ValueError:
        import shutil

        shutil.rmtree(result.out)  # not a test of the type asked for: nothing half-built is left
        raise
    return result


def _seal_type(out: Path, kind: str, pairs: list[tuple[str, str]] | None, ab_reference: bool,
               no_preference: bool, texts_given: bool) -> None:
    import yaml

    spec = yaml.safe_load((out / TEST_YAML).read_text())
    module = {"acr": acr, "dcr": dcr, "ccr": ccr, "ab": ab}[kind]
    if kind != "ab":
        section = module.settings(spec.get("reference", REFERENCE))
    else:
        anchors = set((spec.get("anchors") or {}).values())
        tested = [c for c in spec["conditions"] if c != spec.get("reference", REFERENCE) and c not in anchors]
        chosen = ab.pairs_from(spec["conditions"] if pairs is not None else tested, pairs)
        section = ab.settings(chosen, ab_reference, no_preference)
    spec["notes"] = [n for n in spec.get("notes") or [] if not _mushra_only(n)]
    if not texts_given:
        spec["texts"] = {**spec["texts"], "welcome": module.WELCOME, "instructions": module.INSTRUCTIONS}
    typed = {"format": spec["format"], "name": spec["name"], "type": kind, kind: section}
    spec = {**typed, **{k: v for k, v in spec.items() if k not in typed}}
    plain = json.loads(json.dumps(spec))
    (out / TEST_YAML).write_text(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    write_checksums(out)


def _mushra_only(note: str) -> bool:
    """A build note about MUSHRA's post-screening (hidden reference, anchor rule): not about this type."""
    return "post-screening" in note
