"""Distill-MOS (Stahl & Gamper, 2025): a non-intrusive speech quality MOS (1-5) from a small convolutional
transformer distilled from an XLS-R-based SQA model; its 17 MB weights ship inside the `distillmos` wheel
(offline, nothing downloaded).

`distillmos` and `xls-r-sqa` declare `torchaudio`, which cannot be installed beside torch >= 2.12, so
they are not an extra: install them with `pip install --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0`.
`distillmos.sqa` imports torchaudio only for its file-list command (loading, resampling); codecbench imports
it beside a placeholder where torchaudio fails (`guarded_import`) and feeds the model 16 kHz tensors itself.
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.metrics.guarded_import import import_beside
from codecbench.metrics.torch_input import one_thread
from codecbench.resources import Availability, Dependencies

SAMPLE_RATE = 16000
INSTALL = "--no-deps distillmos==0.9.1 xls-r-sqa==0.1.0 (they declare torchaudio, which torch>=2.12 cannot have)"


@lru_cache(maxsize=1)
def _sqa():
    """`distillmos.sqa`, imported beside a placeholder torchaudio where the real one cannot be imported."""
    return import_beside("distillmos.sqa", ("torchaudio",))


@lru_cache(maxsize=1)
def _model():
    """The shipped Distill-MOS v7 model in eval mode, built once per process (its constructor prints; muted)."""
    with contextlib.redirect_stdout(io.StringIO()):
        model = _sqa().ConvTransformerSQAModel(load_weights=True)
    return model.eval()


def distillmos_score(x: np.ndarray) -> float:
    """Distill-MOS (1-5) of `x` [T] at 16 kHz; the model cuts it into 7.68 s windows (1 s hops) and averages."""
    import torch

    with one_thread():
        return float(_model()(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]).squeeze())


class DistillMos(Metric):
    """Distill-MOS (1-5), non-intrusive, of the decoded signal and (`ref_distillmos`) of the reference."""

    name = "distillmos"
    sample_rate = SAMPLE_RATE
    intrusive = False
    scores_reference = True
    value_range = (1.0, 5.0)
    min_duration_s = 1.0  # shorter clips are mostly zero padding of the model's 7.68 s window
    default = False  # opt-in: a neural model outside the extras
    notes = "weights inside the distillmos wheel (offline); install: pip install " + INSTALL
    # distillmos itself is imported beside a placeholder torchaudio (`_sqa`): recorded, not import-checked here
    requires = Dependencies(("torch", "xls_r_sqa.sqa_model"), install=INSTALL, records=("distillmos",))

    @classmethod
    def availability(cls) -> Availability:
        status = cls.requires.check()
        if not status.available:
            return status
        try:
            weights = Path(_sqa().DEFAULT_WEIGHTS_CHKPT)
        except ImportError as exc:
            return Availability(False, f"distillmos cannot be imported ({exc}); pip install {INSTALL}")
        if not weights.is_file():
            return Availability(False, f"the distillmos wheel has no weights at {weights}; pip install {INSTALL}")
        return status

    def compute(self, reference: None, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: distillmos_score(degraded)}
