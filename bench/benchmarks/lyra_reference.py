"""Independent reference for codecbench's Lyra v2 numbers.

Codes every file a `codecbench run` coded (its manifest.csv) with straight ai-edge-litert calls, scores it
with the `pesq` and `pystoi` packages on the unaligned full-length pair, counts the transmitted bits
(quantizers x 4 bits per 20 ms frame), and compares the per-spec means with those of the run. Of codecbench
it uses only the location of the weights (`find_weights`); coding and scoring import nothing from it.
Exit status 1 if a mean differs by more than the tolerances.

    codecbench run --codecs lyra@3.2,lyra@6,lyra@9.2,opus@6 --metrics pesq_wb,stoi --out results/lyra
    python -m codecbench.benchmarks.lyra_reference --run results/lyra
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from ai_edge_litert.interpreter import Interpreter
from pesq import pesq
from pystoi import stoi
from tqdm import tqdm

from codecbench.codecs.lyra import find_weights
from codecbench.safecsv import read_csv

QUANTIZERS = {"lyra@3.2": 16, "lyra@6": 30, "lyra@9.2": 46}
TOLERANCE = {"pesq_wb": 0.06, "stoi": 0.015}  # absolute; kbps: 2 % relative
KBPS_TOLERANCE = 0.02


def lyra_round_trip(x: np.ndarray, quantizers: int, weights: Path) -> tuple[np.ndarray, int]:
    """Decoded signal and transmitted bits for one 16 kHz signal (fresh interpreters: no carried state)."""
    def runner(name: str, signature: str | None = None):
        return Interpreter(model_path=str(weights / name), num_threads=1).get_signature_runner(signature)

    encoder, quantize = runner("soundstream_encoder.tflite"), runner("quantizer.tflite", "encode")
    dequantize, decoder = runner("quantizer.tflite", "decode"), runner("lyragan.tflite")
    frames = -(-len(x) // 320)
    padded = np.zeros(frames * 320, np.float32)
    padded[: len(x)] = x
    out = []
    for t in range(frames):
        features = encoder(input_audio=padded[None, t * 320:(t + 1) * 320])["output_0"]
        indices = quantize(input_frames=features, num_quantizers=np.array(quantizers, np.int32))["output_0"]
        # what crosses the channel: the first `quantizers` 4-bit indices; the rest are -1 on both sides
        received = np.full_like(indices, -1)
        received[:quantizers] = indices[:quantizers]
        out.append(decoder(input_audio=dequantize(encoding_indices=received)["output_0"])["output_0"][0])
    return np.clip(np.concatenate(out)[: len(x)], -1, 1), frames * quantizers * 4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, type=Path, help="a codecbench run directory with lyra specs")
    parser.add_argument("--weights", type=Path, default=None,
                        help="the three .tflite files (default: Lyra's own lookup, ending with the embedded copy)")
    args = parser.parse_args()
    weights = args.weights or find_weights()

    run = pd.read_parquet(args.run / "utterances.parquet")
    specs = [s for s in QUANTIZERS if s in set(run["spec"])]
    manifest = read_csv(args.run / "manifest.csv")  # the very files the run coded
    files = dict(zip(manifest["utterance"], map(Path, manifest["path"])))
    rows = []
    for utterance in tqdm(sorted(set(run["utterance"]) & set(files)), desc="reference", unit="utt"):
        x, rate = sf.read(files[utterance], dtype="float32")
        assert rate == 16000
        for spec in specs:
            y, bits = lyra_round_trip(x, QUANTIZERS[spec], weights)
            rows.append({"utterance": utterance, "spec": spec, "pesq_wb": pesq(16000, x, y, "wb"),
                         "stoi": stoi(x, y, 16000), "measured_kbps": bits / (len(x) / 16000) / 1000})
    reference = pd.DataFrame(rows).groupby("spec").mean(numeric_only=True)
    ours = run[run["spec"].isin(specs)].groupby("spec")[["pesq_wb", "stoi", "measured_kbps"]].mean()
    ok = True
    print(f"{'spec':10} {'n':>3}  {'column':14} {'codecbench':>10} {'reference':>10} {'diff':>8} {'tolerance':>10}")
    for spec in specs:
        n = int((run["spec"] == spec).sum())
        for column in ("pesq_wb", "stoi", "measured_kbps"):
            a, b = ours.loc[spec, column], reference.loc[spec, column]
            limit = TOLERANCE.get(column, KBPS_TOLERANCE * b)
            ok &= abs(a - b) <= limit
            print(f"{spec:10} {n:3d}  {column:14} {a:10.4f} {b:10.4f} {a - b:+8.4f} {'±':>4}{limit:.4f}"
                  f"{'' if abs(a - b) <= limit else '  EXCEEDED'}")
    print("agreement within tolerances" if ok else "DISAGREEMENT beyond tolerances")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
