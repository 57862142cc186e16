"""ViSQOL v3 in speech mode (`visqol-python`, a port of Google's C++ with its bundled models).

Two mappings from similarity to MOS-LQO: `visqol` uses the lattice model, Google's default for speech;
`visqol_exp` the exponential mapping of earlier versions (C++ `--use_lattice_model=false`).

Both score at 48 kHz, the rate of Google's conformance files: 16 kHz input is upsampled (soxr) first.
Speech mode analyses 50 Hz-8 kHz in 21 gammatone bands at whatever rate it is given (the C++ warns above
16 kHz but does not resample); at 16 kHz the top bands sit next to Nyquist, where the discrete gammatone
filters differ, and the conformance pair scores 0.012 lower (3.3012 against Google's 3.3129); upsampled
to 48 kHz it scores 3.3155.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import ClassVar

import numpy as np

from codecbench.resources import Dependencies
from codecbench.metrics.base import Metric, MetricError


@lru_cache(maxsize=None)
def _api(mode: str, lattice: bool):
    """One ViSQOL per mode, mapping and process (the lattice model is a TFLite interpreter)."""
    from visqol import VisqolApi

    logging.getLogger("visqol").setLevel(logging.ERROR)  # it warns about every input rate above 16 kHz
    api = VisqolApi()
    api.create(mode=mode, use_lattice_model=lattice if mode == "speech" else None)
    return api


def visqol_moslqo(reference: np.ndarray, degraded: np.ndarray, sample_rate: int, lattice: bool = True,
                  mode: str = "speech") -> float:
    """ViSQOL MOS-LQO of `degraded` [T] against `reference` [T] at `sample_rate`, in speech mode (`lattice`: its
    mapping) or audio mode (Google's SVR model).

    Raises:
        MetricError: ViSQOL finds no patch to compare (too short, or in speech mode no voice activity).
    """
    try:
        result = _api(mode, lattice).measure_from_arrays(
            reference.astype(np.float64), degraded.astype(np.float64), sample_rate)
    except IndexError as exc:  # the patch selector indexes an empty list
        if mode == "speech":
            raise MetricError("ViSQOL found no speech patch (too short or too little voice activity)") from exc
        raise MetricError("ViSQOL found no patch to compare (too short)") from exc
    return float(result.moslqo)


VISQOL = Dependencies(("visqol",), extra="metrics")
LATTICE = Dependencies(("ai_edge_litert",), install="'visqol-python[lattice]'")  # the lattice model's runtime


class Visqol(Metric):
    """ViSQOL v3 speech mode, lattice mapping (Google's default), MOS-LQO 1-5, at 48 kHz (conformance rate)."""

    name = "visqol"
    sample_rate = 48000
    value_range = (1.0, 5.0)
    min_duration_s = 0.5
    default = False  # opt-in: see README for its cost
    lattice: ClassVar[bool] = True
    requires = Dependencies(VISQOL.modules, extra="metrics", then=LATTICE)
    # no best_range: the lattice mapping scores x against x 4.13-4.40 on the sample, not its top (docs/metrics.md)
    notes = ("speech mode (50 Hz-8 kHz) at 48 kHz, Google's conformance rate; 16 kHz input is upsampled; "
             "f(x, x) is 4.1-4.4, not 5: the lattice mapping's ceiling depends on the utterance")

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: visqol_moslqo(reference, degraded, self.sample_rate, self.lattice)}


class VisqolExponential(Visqol):
    """ViSQOL v3 speech mode with the exponential similarity-to-MOS mapping, MOS-LQO 1-5, at 48 kHz."""

    name = "visqol_exp"
    lattice = False
    requires = VISQOL
    best_range = (5.0, 5.0)  # the exponential mapping is clipped at 5
    notes = "exponential mapping (use_lattice_model=false); at 48 kHz like visqol"
