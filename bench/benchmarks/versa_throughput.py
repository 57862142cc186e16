"""Scoring throughput against VERSA: `codecbench score --pairs` and VERSA's scorer on the same 16 kHz pairs.

    python -m codecbench.benchmarks.versa_throughput --versa-python /work/versa-venv/bin/python --work DIR
        [--metrics pesq_wb,stoi,dnsmos] [--rounds 2] [--limit N]

The pairs are the Stahl et al. 2024 MUSHRA set's 144 rated stimuli (16 items x 9 conditions, the hidden
reference against itself included), each paired with its item's reference, converted to 16 kHz mono WAV
(downmix, soxr) under `DIR/audio`. Both tools run as fresh processes, alternated, pinned to one core
(`taskset -c 0`) with one thread (`OMP_NUM_THREADS=1`, `--threads 1`); the figure is the CPU seconds
(user + system) of the process and its children, robust to other load on a shared machine. codecbench runs
as a user would (`--align auto`) and with `--align none` (no delay removed: VERSA aligns nothing). VERSA runs
`versa.bin.scorer` with its `pesq`, `stoi` and `pseudo_mos` (DNSMOS only) metrics and `--io soundfile`.

Values are compared pair by pair between VERSA and the `--align none` run: PESQ-WB and STOI are the same
library calls on the same samples; VERSA's DNSMOS divides each clip by its peak first (codecbench scores the
file as it is), so DNSMOS is also compared against codecbench's DNSMOS of the peak-normalised files.
Prints progress lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

RATE = 16000
VERSA_CONFIG = """- name: pesq
- name: stoi
- name: pseudo_mos
  predictor_types: ["dnsmos"]
  predictor_args:
    dnsmos:
      fs: 16000
"""
# codecbench column -> VERSA key
VERSA_KEYS = {"pesq_wb": "pesq", "stoi": "stoi", "dnsmos_ovrl": "dns_overall", "dnsmos_p808": "dns_p808"}


def _key(item: str, condition: str) -> str:
    return f"{item}__{condition}".replace(" ", "_")


def prepare(work: Path, stahl: str | None = None, limit: int | None = None, peak: bool = False) -> pd.DataFrame:
    """The Stahl set's stimuli and references as 16 kHz mono WAV under `work/audio` (`peak`: each file divided by
    its peak, as VERSA's DNSMOS does, under `work/audio_peak`); returns the pairs (item, condition, reference,
    degraded, key) and writes `pairs16.csv`, `gt.scp` and `pred.scp` beside them."""
    from codecbench.audio import load_audio
    from codecbench.ratings import read_source
    from codecbench.ratings.stahl import locate_stahl

    ratings = read_source(locate_stahl(stahl))
    files = ratings.table[ratings.table["file"] != ""].drop_duplicates(["item", "condition"])
    references = files[files["condition"] == ratings.reference].set_index("item")["file"]
    folder = work / ("audio_peak" if peak else "audio")
    records = []
    for row in files.itertuples():
        if row.item not in references.index:
            continue
        written = []
        for name, source in (("ref", references[row.item]), (_key(row.item, row.condition), row.file)):
            target = folder / row.item / f"{name}.wav"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                samples = load_audio(source, RATE, check=False).samples
                if peak:
                    samples = samples / np.max(np.abs(samples))
                sf.write(target, samples, RATE, subtype="FLOAT")
            written.append(target)
        records.append((row.item, row.condition, str(written[0]), str(written[1]), _key(row.item, row.condition)))
    pairs = pd.DataFrame(records, columns=["item", "condition", "reference", "degraded", "key"])
    if limit:
        pairs = pairs.head(limit)
    suffix = "_peak" if peak else ""
    pairs[["reference", "degraded", "item", "condition"]].to_csv(work / f"pairs16{suffix}.csv", index=False)
    (work / f"gt{suffix}.scp").write_text("".join(f"{k} {r}\n" for k, r in zip(pairs["key"], pairs["reference"])))
    (work / f"pred{suffix}.scp").write_text("".join(f"{k} {d}\n" for k, d in zip(pairs["key"], pairs["degraded"])))
    (work / "versa.yaml").write_text(VERSA_CONFIG)
    return pairs


def one_thread_env() -> dict[str, str]:
    """The environment of a one-thread run."""
    env = dict(os.environ)
    env.update({k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")})
    env.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "numba"))
    return env


def timed(command: list[str], cwd: Path) -> dict[str, float]:
    """Run `command` on one core; its CPU seconds (user, system: of it and its children) and wall seconds."""
    pinned = ["taskset", "-c", "0", *command] if shutil.which("taskset") else command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(pinned, cwd=cwd, env=one_thread_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"cpu_s": round(user + system, 1), "user_s": round(user, 1), "system_s": round(system, 1),
            "wall_s": round(wall, 1)}


def codecbench_command(work: Path, out: str, metrics: str, align: str, pairs_csv: str = "pairs16.csv") -> list[str]:
    return [str(Path(sys.executable).parent / "codecbench"), "score", "--pairs", str(work / pairs_csv), "--out", str(work / out),
            "--overwrite", "--metrics", metrics, "--workers", "1", "--threads", "1", "--no-progress",
            "--align", align]


def versa_command(work: Path, versa_python: str, output: str, suffix: str = "") -> list[str]:
    return [versa_python, "-m", "versa.bin.scorer", "--score_config", str(work / "versa.yaml"),
            "--gt", str(work / f"gt{suffix}.scp"), "--pred", str(work / f"pred{suffix}.scp"),
            "--output_file", str(work / output), "--io", "soundfile", "--verbose", "0"]


def read_versa(path: Path) -> pd.DataFrame:
    """VERSA's per-utterance results (JSON lines, or Python dict reprs in older versions) by key."""
    import ast

    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append(ast.literal_eval(line))
    return pd.DataFrame(records).set_index("key")


def compare(pairs: pd.DataFrame, run: Path, versa: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """Per column: pairs compared, the largest |codecbench - VERSA| and where."""
    rows = pd.read_csv(run / "utterances.csv", dtype={"utterance": str})
    rows["key"] = [_key(i, c) for i, c in zip(rows["utterance"], rows["spec"])]
    both = rows.set_index("key").join(versa.add_prefix("versa:"), how="inner")
    result = {}
    for column in columns:
        other = "versa:" + VERSA_KEYS[column]
        if column not in both or other not in both:
            continue
        difference = (both[column].astype(float) - both[other].astype(float)).abs()
        result[column] = {"pairs": int(difference.notna().sum()), "max_abs_diff": float(difference.max()),
                          "mean_abs_diff": float(difference.mean()), "worst": str(difference.idxmax()),
                          "equal_within_1e-4": int((difference <= 1e-4).sum())}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versa-python", required=True, help="the Python of an environment with VERSA installed")
    parser.add_argument("--work", required=True, help="a folder for the converted pairs and the outputs")
    parser.add_argument("--metrics", default="pesq_wb,stoi,dnsmos")
    parser.add_argument("--stahl", default=None, help="the Stahl et al. 2024 folder (default: as `validity` finds it)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    pairs = prepare(work, args.stahl, args.limit)
    prepare(work, args.stahl, args.limit, peak=True)
    print(f"{len(pairs)} pairs in {work}", flush=True)
    runs = {"codecbench --align auto": lambda: codecbench_command(work, "cb_auto", args.metrics, "auto"),
            "codecbench --align none": lambda: codecbench_command(work, "cb_none", args.metrics, "none"),
            "versa": lambda: versa_command(work, args.versa_python, "versa.jsonl")}
    timings: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        for name, command in runs.items():
            for leftover in (work / "versa.jsonl",):
                leftover.unlink(missing_ok=True)
            timings[name].append(timed(command(), work))
            print(f"round {round_ + 1} {name}: {timings[name][-1]}", flush=True)
    timed(codecbench_command(work, "cb_none_peak", "dnsmos", "none", "pairs16_peak.csv"), work)
    versa = read_versa(work / "versa.jsonl")
    columns = ["pesq_wb", "stoi", "dnsmos_ovrl", "dnsmos_p808"]
    best = {name: min(t["cpu_s"] for t in runs_) for name, runs_ in timings.items()}
    print(json.dumps({
        "pairs": len(pairs), "timings": timings, "best_cpu_s": best,
        "versa_over_codecbench_auto": round(best["versa"] / best["codecbench --align auto"], 2),
        "versa_over_codecbench_none": round(best["versa"] / best["codecbench --align none"], 2),
        "values_align_none": compare(pairs, work / "cb_none", versa, columns),
        "values_align_auto": compare(pairs, work / "cb_auto", versa, columns),
        "dnsmos_peak_normalised": compare(pairs, work / "cb_none_peak", versa, ["dnsmos_ovrl", "dnsmos_p808"]),
    }, indent=1))


if __name__ == "__main__":
    main()
