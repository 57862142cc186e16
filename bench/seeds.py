"""The one seed rule: every seed of a run (a coding's, a decode's, a channel's or an input condition's draws) is
derived from the run seed and identifiers, so reruns, resumes, engines and `mushra build` agree."""

from __future__ import annotations

import hashlib


def derive_seed(run_seed: int, *parts: str) -> int:
    """A stable 31-bit seed from a seed and identifiers (utterance id, spec, decode number)."""
    text = "|".join([str(run_seed), *parts])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def utterance_seed(run_seed: int, utterance: str, spec: str) -> int:
    """The seed `pipeline.code` gets for one (utterance, spec) of a run: reruns, resumes and `mushra build` agree."""
    return derive_seed(run_seed, utterance, spec)


def decode_seeds(seed: int, count: int) -> list[int]:
    """The decoder seeds of `count` decodes: `seed` itself, then one derived from it per further decode."""
    return [seed, *(derive_seed(seed, str(k)) for k in range(1, count))]
