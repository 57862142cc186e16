"""Listening-test types on one server: what a trial holds, what a listener answers, and how it is checked.

A test folder's `test.yaml` names its type (`type:`; MUSHRA when absent) and that type's settings under a key of
the same name. Every type shares the store, the security gate, resume, per-trial saving and the exports: a trial
is a set of stimuli served by opaque key (with or without an open reference), and a listener's answer is one
integer per rated stimulus (the `ratings` table):
- `mushra` (ITU-R BS.1534-3): 0-100 per stimulus (`plan.plan_trials`);
- `acr` (ITU-T P.808 absolute category rating): one stimulus per trial, 1 (Bad) to 5 (Excellent), see `acr`;
- `dcr` (P.808 degradation category rating): the reference, then one stimulus, 1 (very annoying) to 5
  (inaudible), see `dcr`;
- `ccr` (P.808 comparison category rating): the reference and one stimulus in a random order, B against A from
  -3 to +3, stored as 3 + c for B and 3 - c for A (0-6), see `ccr`;
- `ab` (paired comparison, with or without the reference): two stimuli, 100 for the preferred one and 0 for the
  other, or 50 each for "no preference" where the test allows it, see `ab`.
"""

from __future__ import annotations

from typing import Any

from codecbench.listening_test.types.ab import AbType
from codecbench.listening_test.types.acr import AcrType
from codecbench.listening_test.types.base import CHOICE_LABELS, MUSHRA, TYPES, ListeningType, type_name
from codecbench.listening_test.types.ccr import CcrType
from codecbench.listening_test.types.dcr import DcrType
from codecbench.listening_test.types.mushra import MushraType

__all__ = ["CHOICE_LABELS", "MUSHRA", "TYPES", "ListeningType", "type_name", "type_of"]


def type_of(test: Any) -> ListeningType:
    """The type object of a loaded test."""
    name = type_name(test.spec)
    if name == "acr":
        return AcrType(test.spec.get("acr") or {})
    if name == "dcr":
        return DcrType(test.spec.get("dcr") or {})
    if name == "ccr":
        return CcrType(test.spec.get("ccr") or {})
    if name == "ab":
        return AbType(test.spec.get("ab") or {})
    return MushraType()
