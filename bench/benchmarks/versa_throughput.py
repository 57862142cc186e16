"""Scoring throughput against VERSA: `codecbench score --pairs` and VERSA's scorer on the same 16 kHz pairs.

    python -m codecbench.benchmarks.versa_throughput --versa-python /work/versa-venv/bin/python --work DIR
        [--metrics pesq_wb,stoi,dnsmos] [--rounds 2] [--limit N]

The pairs are the Stahl et al. 2024 MUSHRA set's rated stimuli that have audio (16 items x 8 conditions: the
hidden reference against itself, Lyra 3/6, AudioDec, four variants of the authors' codec; the Anchor's audio is not
in the set), each paired with its item's reference, converted to 16 kHz mono float WAV (downmix, soxr) under
`DIR/audio`. Both tools run as fresh processes, alternated, pinned to one core (`taskset -c 0`) with one
thread (`OMP_NUM_THREADS=1`, `--threads 1`); the figure is the CPU seconds (user + system) of the process and
its children, robust to other load on a shared machine. codecbench runs as a user would (`--align auto`,
the default); VERSA runs `versa.bin.scorer` with its `pesq`, `stoi` and `pseudo_mos` (DNSMOS only) metrics
and `--io soundfile`.

Values are compared pair by pair, over all pairs and over the pairs where codecbench's delay rule removed no
delay (VERSA aligns nothing): there PESQ-WB and STOI are the same library calls on the same samples. VERSA's
DNSMOS divides each clip by its peak first (codecbench scores the file as it is), so DNSMOS is also compared
against codecbench's DNSMOS of the first 8 peak-normalised files.
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

from codecbench.safecsv import write_csv

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


def prepare(work: Path, stahl: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The Stahl set's stimuli and references as 16 kHz mono float WAV under `work/audio`; returns the pairs
    (item, condition, reference, degraded, key) and writes `pairs16.csv`, `gt.scp`, `pred.scp`, `versa.yaml`."""
    from codecbench.audio import load_audio
    from codecbench.ratings import read_source
    from codecbench.ratings.stahl import locate_stahl

    ratings = read_source(locate_stahl(stahl))
    files = ratings.table[ratings.table["file"] != ""].drop_duplicates(["item", "condition"])
    references = files[files["condition"] == ratings.reference].set_index("item")["file"]
    folder = work / "audio"
    records = []
    for row in files.itertuples():
        if row.item not in references.index:
            continue
        written = []
        for name, source in (("ref", references[row.item]), (_key(row.item, row.condition), row.file)):
            target = folder / row.item / f"{name}.wav"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                sf.write(target, load_audio(source, RATE, check=False).samples, RATE, subtype="FLOAT")
            written.append(target)
        records.append((row.item, row.condition, str(written[0]), str(written[1]), _key(row.item, row.condition)))
    pairs = pd.DataFrame(records, columns=["item", "condition", "reference", "degraded", "key"])
    if limit:
        pairs = pairs.head(limit)
    write_csv(pairs[["reference", "degraded", "item", "condition"]], work / "pairs16.csv")
    (work / "gt.scp").write_text("".join(f"{k} {r}\n" for k, r in zip(pairs["key"], pairs["reference"])))
    (work / "pred.scp").write_text("".join(f"{k} {d}\n" for k, d in zip(pairs["key"], pairs["degraded"])))
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


def codecbench_command(work: Path, out: str, metrics: str, align: str) -> list[str]:
    return [str(Path(sys.executable).parent / "codecbench"), "score", "--pairs", str(work / "pairs16.csv"),
            "--out", str(work / out),
            "--overwrite", "--metrics", metrics, "--workers", "1", "--threads", "1", "--no-progress",
            "--align", align]


def versa_command(work: Path, versa_python: str, output: str) -> list[str]:
    return [versa_python, "-m", "versa.bin.scorer", "--score_config", str(work / "versa.yaml"),
            "--gt", str(work / "gt.scp"), "--pred", str(work / "pred.scp"),
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


def compare(run: Path, versa: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """Per column: over all pairs, and over the pairs the command aligned at delay 0 (the samples VERSA scores),
    the largest and mean |codecbench - VERSA|, where the largest is, and how many agree within 1e-4."""
    rows = pd.read_csv(run / "utterances.csv", dtype={"utterance": str})
    rows["key"] = [_key(i, c) for i, c in zip(rows["utterance"], rows["spec"])]
    both = rows.set_index("key").join(versa.add_prefix("versa:"), how="inner")
    result = {}
    for subset, table in (("all", both), ("delay_0", both[both["delay_samples"] == 0])):
        for column in columns:
            difference = (table[column].astype(float) - table["versa:" + VERSA_KEYS[column]].astype(float)).abs()
            result[f"{column} ({subset})"] = {
                "pairs": int(difference.notna().sum()), "max_abs_diff": round(float(difference.max()), 6),
                "mean_abs_diff": round(float(difference.mean()), 6), "worst": str(difference.idxmax()),
                "within_1e-4": int((difference <= 1e-4).sum())}
    return result


def dnsmos_of_peak_normalised(pairs: pd.DataFrame, versa: pd.DataFrame, count: int) -> dict[str, float]:
    """codecbench's DNSMOS of the first `count` decoded files divided by their peak (what VERSA feeds DNSMOS):
    the largest |difference| from VERSA's values."""
    from codecbench.audio import load_audio
    from codecbench.metrics.dnsmos import Dnsmos

    metric, largest = Dnsmos(), {"dnsmos_ovrl": 0.0, "dnsmos_p808": 0.0}
    for row in pairs.head(count).itertuples():
        samples = load_audio(row.degraded, RATE, check=False).samples
        values = metric.compute(None, samples / np.max(np.abs(samples)))
        for column in largest:
            largest[column] = max(largest[column], abs(values[column] - versa.loc[row.key, VERSA_KEYS[column]]))
    return {"pairs": min(count, len(pairs)), **{k: round(v, 6) for k, v in largest.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versa-python", required=True, help="the Python of an environment with VERSA installed")
    parser.add_argument("--work", required=True, help="a folder for the converted pairs and the outputs")
    parser.add_argument("--stahl", default=None, help="the Stahl et al. 2024 folder (default: as `validity` finds it)")
    parser.add_argument("--metrics", default="pesq_wb,stoi,dnsmos")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs (8 per item)")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    pairs = prepare(work, args.stahl, args.limit)
    print(f"{len(pairs)} pairs in {work}", flush=True)
    runs = {"codecbench": codecbench_command(work, "codecbench", args.metrics, "auto"),
            "versa": versa_command(work, args.versa_python, "versa.jsonl")}
    timings: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        for name, command in runs.items():
            (work / "versa.jsonl").unlink(missing_ok=True)
            timings[name].append(timed(command, work))
            print(f"round {round_ + 1} {name}: {timings[name][-1]}", flush=True)
    versa = read_versa(work / "versa.jsonl")
    best = {name: min(t["cpu_s"] for t in runs_) for name, runs_ in timings.items()}
    print(json.dumps({
        "pairs": len(pairs), "timings": timings, "best_cpu_s": best,
        "versa_over_codecbench": round(best["versa"] / best["codecbench"], 2),
        "values": compare(work / "codecbench", versa, ["pesq_wb", "stoi", "dnsmos_ovrl", "dnsmos_p808"]),
        "dnsmos_peak_normalised": dnsmos_of_peak_normalised(pairs, versa, 8),
    }, indent=1))


if __name__ == "__main__":
    main()
