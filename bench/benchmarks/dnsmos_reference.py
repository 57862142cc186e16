"""DNSMOS: codecbench's shared-convolution scoring against Microsoft's per-window scoring, values and cost.

The reference is `speechmos.dnsmos.DNSMOS` (Microsoft's `dnsmos_local.py`: every 9.01 s window through
the whole P.835 and P.808 models) on single-thread sessions of the same bundled models. Both run on the
same clips in alternation, so load from other jobs affects them alike. Prints one JSON object: the
largest absolute difference of any score, and ms of CPU per second of audio for each (one signal each).
Exit status 1 if a score differs by more than 1e-4.

    python -m codecbench.benchmarks.dnsmos_reference [--root DIR --split test-other] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

TOLERANCE = 1e-4
REFERENCE_KEYS = ("sig_mos", "bak_mos", "ovrl_mos", "p808_mos")


def reference_scorer():
    """Microsoft's scoring as speechmos implements it, on single-thread sessions."""
    import onnxruntime as ort
    from speechmos import dnsmos

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    models = Path(dnsmos.__file__).parent / "dnsmos_models"
    scorer = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)
    scorer.onnx_sess, scorer.p808_onnx_sess = (
        ort.InferenceSession(str(models / name), options, providers=["CPUExecutionProvider"])
        for name in ("sig_bak_ovr.onnx", "model_v8.onnx"))
    return scorer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="LibriSpeech root (default: the embedded sample)")
    parser.add_argument("--split", default=None, help="LibriSpeech split")
    parser.add_argument("--limit", type=int, default=None, help="first N utterances")
    args = parser.parse_args()

    from codecbench.audio import load_audio
    from codecbench.datasets import select
    from codecbench.metrics.dnsmos import Dnsmos, dnsmos_scores

    selection = select("librispeech", args.root, args.split, args.limit)
    clips = [np.clip(load_audio(u.path, 16000).samples, -1, 1).astype(np.float32) for u in selection.utterances]
    reference = reference_scorer()
    reference(clips[0], 16000, False), dnsmos_scores(clips[0])  # sessions built, caches warm
    cpu = {"reference": 0.0, "codecbench": 0.0}
    worst = 0.0
    for clip in tqdm(clips, desc="dnsmos"):
        start = time.process_time()
        expected = reference(clip, 16000, False)
        cpu["reference"] += time.process_time() - start
        start = time.process_time()
        scores = dnsmos_scores(clip)
        cpu["codecbench"] += time.process_time() - start
        worst = max(worst, *(abs(float(expected[k]) - scores[c]) for k, c in zip(REFERENCE_KEYS, Dnsmos.columns)))
    seconds = sum(len(c) for c in clips) / 16000
    result = {"data": f"{selection.dataset} {selection.split}", "utterances": len(clips),
              "audio_s": round(seconds, 1), "max_abs_difference": worst,
              "cpu_ms_per_s": {k: round(1000 * v / seconds, 1) for k, v in cpu.items()},
              "speedup": round(cpu["reference"] / cpu["codecbench"], 2)}
    print(json.dumps(result))
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
