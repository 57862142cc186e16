"""DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS: Microsoft's non-intrusive ONNX models via `speechmos`.

`speechmos` bundles the models and the reference scoring (9.01 s windows hopped by 1 s, polynomial
calibration); its sessions use every core, so codecbench builds its own single-threaded sessions once
per process and leaves parallelism to the runner's worker processes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from codecbench.codecs.base import Availability
from codecbench.metrics.base import Metric


@lru_cache(maxsize=1)
def _scorer():
    """speechmos' DNSMOS scorer with sessions created once per process, one thread each."""
    import onnxruntime as ort
    from speechmos import dnsmos

    models = Path(dnsmos.__file__).parent / "dnsmos_models"

    class SingleThreadDnsmos(dnsmos.DNSMOS):
        def __init__(self) -> None:  # the parent's __init__ differs only in the session options
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            self.primary_model_path = str(models / "sig_bak_ovr.onnx")
            self.onnx_sess = ort.InferenceSession(self.primary_model_path, options,
                                                  providers=["CPUExecutionProvider"])
            self.p808_onnx_sess = ort.InferenceSession(str(models / "model_v8.onnx"), options,
                                                       providers=["CPUExecutionProvider"])

    return SingleThreadDnsmos()


def dnsmos_scores(x: np.ndarray, sample_rate: int = 16000) -> dict[str, float]:
    """SIG, BAK, OVRL (P.835) and P.808 MOS of `x` [T] at 16 kHz.

    Samples beyond ±1 are clipped, as writing the signal to a 16-bit file would; signals shorter than
    9.01 s are tiled to that length by the reference scoring, as in Microsoft's DNSMOS script.
    """
    result = _scorer()(np.clip(x, -1.0, 1.0).astype(np.float32), sample_rate, False)
    return {"dnsmos_sig": float(result["sig_mos"]), "dnsmos_bak": float(result["bak_mos"]),
            "dnsmos_ovrl": float(result["ovrl_mos"]), "dnsmos_p808": float(result["p808_mos"])}


class Dnsmos(Metric):
    """DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS (1-5), non-intrusive, of the decoded signal and the reference."""

    name = "dnsmos"
    columns = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
    sample_rate = 16000
    intrusive = False
    scores_reference = True
    value_range = (1.0, 5.0)
    min_duration_s = 1.0  # shorter clips would be tiled more than 9 times into the 9 s window
    extra = "metrics"
    default = False  # opt-in: ~0.23 s CPU per second of audio (9 s windows every second), 4x the demo's cost
    notes = "also ref_dnsmos_*: the reference's own score (cached per utterance)"

    @classmethod
    def availability(cls) -> Availability:
        return Availability.of_modules("onnxruntime", "speechmos.dnsmos", install="'codecbench[metrics]'")

    def compute(self, reference: None, degraded: np.ndarray) -> dict[str, float]:
        return dnsmos_scores(degraded, self.sample_rate)
