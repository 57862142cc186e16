"""PLCMOS (Microsoft, Interspeech 2023): a non-intrusive MOS of packet-loss concealment, the PLC Challenge's
metric. Its ONNX model (`plcmos_v2`) ships in `speechmos`; the features are the package's own
(`speechmos.plcmos.PLCMOS.stft_transform`: 512-point log-power STFT of the 16 kHz signal).

The score is the mean over 15 simulated raters, each a random 64-dimensional embedding. The package draws them
from numpy's global generator, so the same signal scores differently each call; here they come from a fixed
seed, so a score depends on the signal alone.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.resources import Dependencies
from codecbench.metrics.base import Metric

SAMPLE_RATE = 16000
RATERS = 15  # speechmos' embed_rounds
RATER_SEED = 0


@lru_cache(maxsize=1)
def _model():
    """The package's PLCMOS v2 scorer with a one-thread ONNX session (built once per process)."""
    import onnxruntime as ort
    from speechmos.plcmos import PLCMOS

    scorer = PLCMOS()
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    scorer.session = ort.InferenceSession(scorer.model_path, options, providers=["CPUExecutionProvider"])
    return scorer


def plcmos_score(degraded: np.ndarray) -> float:
    """PLCMOS v2 of a 16 kHz signal in [-1, 1] (1-5)."""
    scorer = _model()
    features = np.float32(scorer.stft_transform(np.clip(degraded, -1.0, 1.0)))[None, None]
    raters = np.random.RandomState(RATER_SEED).normal(size=(RATERS, 1, 64)).astype(np.float32)
    scores = [float(scorer.session.run(None, {"degraded_audio": features, "rater_embed": r})[0]) for r in raters]
    return float(np.mean(scores))


class Plcmos(Metric):
    """PLCMOS v2 (1-5), non-intrusive: how natural speech sounds across lost and concealed packets."""

    name = "plcmos"
    sample_rate = SAMPLE_RATE
    intrusive = False
    value_range = (1.0, 5.0)
    min_duration_s = 1.0  # the model rates whole utterances (the PLC Challenge's clips are 10 s)
    requires = Dependencies(("speechmos", "onnxruntime"), extra="metrics")
    default = False
    notes = "PLC Challenge metric (speechmos' plcmos_v2.onnx); 15 raters from a fixed seed"

    def compute(self, reference: np.ndarray | None, degraded: np.ndarray) -> dict[str, float]:
        return {"plcmos": plcmos_score(degraded)}
