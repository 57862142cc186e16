"""WARP-Q: codecbench's `warpq` metric against the package's own pipeline (`warpqMetric.evaluate` with its
pyvad VAD), values and VAD masks, on the embedded sample's utterances against two degradations each.

The package's pipeline cannot run beside numpy 2 and setuptools >= 81 (see `codecbench.metrics.warpq`); this
process makes it run for the comparison only: `np.lib.pad` is defined and `pkg_resources` (which webrtcvad
imports for its version string) is a stub. codecbench's metric is computed first, before either exists.
Prints one JSON object; exit status 1 if any raw score or VAD mask differs.

    python -m codecbench.benchmarks.warpq_reference [--limit N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import types

import numpy as np


def degraded_pairs(limit: int | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, reference, degraded) at 16 kHz: each sample utterance band-limited to 4 kHz, and with white noise."""
    from codecbench.audio import load_audio, resample
    from codecbench.datasets import select
    from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

    pairs = []
    for utterance in select("librispeech", EMBEDDED_ROOT, SAMPLE_SPLIT, limit).utterances:
        x = load_audio(utterance.path, 16000).samples
        noise = 0.02 * np.random.default_rng(0).standard_normal(x.size)
        pairs.append((f"{utterance.id} 8k", x, resample(resample(x, 16000, 8000), 8000, 16000).astype(np.float32)))
        pairs.append((f"{utterance.id} noise", x, (x + noise).astype(np.float32)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N sample utterances (default: all 14)")
    args = parser.parse_args(argv)
    from codecbench.metrics.warpq import voice_activity, warpq_raw

    pairs = degraded_pairs(args.limit)
    start = time.process_time()
    ours = [warpq_raw(x, d) for _, x, d in pairs]
    our_cpu = time.process_time() - start
    np.lib.pad = np.pad  # for pyvad and warpq.utils, in this process only
    sys.modules.setdefault("pkg_resources", types.SimpleNamespace(
        get_distribution=lambda name: types.SimpleNamespace(version="unknown")))
    import pyvad
    import warpq.core

    importlib.reload(warpq.core)  # codecbench imported it beside a placeholder pyvad; now the real one
    package = warpq.core.warpqMetric(sr=16000, apply_vad=True, n_jobs=1)
    theirs = [float(package.evaluate(x, d, arr_sr=16000)["raw_warpq_score"]) for _, x, d in pairs]
    masks_equal = sum(np.array_equal(voice_activity(x), pyvad.vad(x, 16000, hop_length=30)) for _, x, _ in pairs)
    differing = [{"pair": n, "codecbench": a, "package": b} for (n, _, _), a, b in zip(pairs, ours, theirs) if a != b]
    seconds = sum(x.size for _, x, _ in pairs) / 16000
    print(json.dumps({"pairs": len(pairs), "equal_scores": len(pairs) - len(differing), "equal_vad_masks": masks_equal,
                      "differing": differing, "codecbench_cpu_s_per_s": round(our_cpu / seconds, 4)}))
    return 1 if differing or masks_equal != len(pairs) else 0


if __name__ == "__main__":
    sys.exit(main())
