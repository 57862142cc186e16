"""Parameter sweeps: one benchmark run over a grid of codec options, tabulated and plotted per grid point.

A sweep is `run_benchmark` over the specs of the grid (`ladiffcodec@1.5:gamma=0.3,tau=100`, ...): the rows,
summary and provenance are those of any run (so `--resume` and `codecbench report` work on it), plus
`sweep.csv` (one row per grid point) and `sweep.png` (a heat map for a 2-D grid, a line plot with 95 %
confidence intervals for a 1-D grid, e.g. quality against sampler steps).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.codecs import CodecSpec, parse_spec
from codecbench.codecs.registry import DEFAULT_DECODE_SEEDS, with_decode_seeds
from codecbench.datasets import Selection
from codecbench.metrics import metric_columns
from codecbench.runner import RunResult, run_benchmark
from codecbench.safecsv import write_csv

TABLE = "sweep.csv"
FIGURE = "sweep.png"


@dataclass
class SweepResult:
    """What `run_sweep` produced: the run, the per-point table and the figure."""

    run: RunResult
    table: pd.DataFrame
    figure: Path


def parse_param(text: str) -> tuple[str, list[str]]:
    """`tau=25,50,100` -> ("tau", ["25", "50", "100"]).

    Raises:
        ValueError: not `NAME=V1,V2,...`, an empty value or a repeated value.
    """
    name, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",")]
    if not sep or not name.strip() or not all(items):
        raise ValueError(f"bad --param {text!r}: expected NAME=V1,V2,... (e.g. tau=25,50,100)")
    if len(set(items)) != len(items):
        raise ValueError(f"--param {text!r} repeats a value")
    return name.strip(), items


def grid_specs(base: CodecSpec, params: dict[str, list[str]]) -> list[tuple[dict[str, str], CodecSpec]]:
    """Every combination of `params` (first parameter slowest) as options added to `base`.

    Raises:
        ValueError: no parameter, more than two, or a parameter `base` already sets.
    """
    if not 1 <= len(params) <= 2:
        raise ValueError(f"a sweep takes one or two --param (a line plot or a heat map), not {len(params)}")
    fixed = sorted(set(params) & set(base.options))
    if fixed:
        raise ValueError(f"{base} already sets {fixed}: leave them out of the spec or the grid")
    points = []
    for values in itertools.product(*params.values()):
        point = dict(zip(params, values))
        points.append((point, CodecSpec(base.name, base.point, {**base.options, **point})))
    return points


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def sweep_table(rows: pd.DataFrame, summary: pd.DataFrame, grid: list[tuple[dict[str, str], CodecSpec]],
                metric: str) -> pd.DataFrame:
    """One row per grid point: the parameters, spec, n, the metric's mean and 95 % CI (and mean seed
    spread), measured kbps, mean denoiser calls (codecs that report them) and decode seconds per second
    of audio (summed over utterances)."""
    by_spec = summary.set_index("spec")
    records = []
    for point, spec in grid:
        name = str(spec)
        record = {key: _number(value) for key, value in point.items()}
        record["spec"] = name
        found = by_spec.loc[name] if name in by_spec.index else None
        record["n"] = 0 if found is None else int(found["n"])
        for suffix in ("mean", "ci95_low", "ci95_high", "seed_std_mean"):
            column = f"{metric}_{suffix}"
            if found is not None and column in found and not (suffix == "seed_std_mean" and pd.isna(found[column])):
                record[column] = float(found[column])
        record["measured_kbps_mean"] = float("nan") if found is None else float(found["measured_kbps_mean"])
        group = rows[rows["spec"] == name]
        if "denoiser_calls" in group and group["denoiser_calls"].notna().any():
            record["denoiser_calls_mean"] = float(group["denoiser_calls"].mean())
        audio = group["duration_s"].sum()
        record["decode_s_per_audio_s"] = float(group["decode_s"].sum() / audio) if audio > 0 else float("nan")
        record["skipped"] = "" if found is None or pd.isna(found.get("skipped")) else found["skipped"]
        records.append(record)
    return pd.DataFrame(records)


def plot_sweep(table: pd.DataFrame, params: list[str], metric: str, title: str, path: Path) -> Path:
    """A heat map of the metric's mean over a 2-D grid, or a line plot with its CI over a 1-D grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean = f"{metric}_mean"
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    if len(params) == 2:
        rows, cols = (list(dict.fromkeys(table[p])) for p in params)
        grid = np.full((len(rows), len(cols)), np.nan)
        for _, record in table.iterrows():
            grid[rows.index(record[params[0]]), cols.index(record[params[1]])] = record.get(mean, np.nan)
        image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        middle = np.nanmean(grid) if np.isfinite(grid).any() else 0.0
        for (i, j), value in np.ndenumerate(grid):
            text = "n/a" if np.isnan(value) else f"{value:.3f}"
            color = "black" if np.isfinite(value) and value > middle else "white"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
        ax.set_xticks(range(len(cols)), [f"{c:g}" if isinstance(c, float) else c for c in cols])
        ax.set_yticks(range(len(rows)), [f"{r:g}" if isinstance(r, float) else r for r in rows])
        ax.set_xlabel(params[1])
        ax.set_ylabel(params[0])
        fig.colorbar(image, ax=ax, label=metric)
    else:
        x = table[params[0]]
        numeric = all(isinstance(v, float) for v in x)
        positions = x.to_numpy(dtype=float) if numeric else np.arange(len(x))
        y = table.get(mean, pd.Series(np.nan, index=table.index)).to_numpy(dtype=float)
        low = table.get(f"{metric}_ci95_low", pd.Series(np.nan, index=table.index)).to_numpy(dtype=float)
        high = table.get(f"{metric}_ci95_high", pd.Series(np.nan, index=table.index)).to_numpy(dtype=float)
        ax.plot(positions, y, marker="o")
        ax.fill_between(positions, low, high, alpha=0.25, label="95 % CI over utterances")
        if numeric and np.all(positions > 0) and positions.max() / positions.min() >= 8:
            ax.set_xscale("log", base=2)
        ax.set_xticks(positions, [f"{v:g}" if isinstance(v, float) else v for v in x])
        ax.set_xlabel(params[0])
        ax.set_ylabel(metric)
        ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_sweep(selection: Selection, spec: str | CodecSpec, params: dict[str, list[str]], metric: str,
              out: str | Path, extra_metrics: list[str] | None = None, decode_seeds: int = DEFAULT_DECODE_SEEDS,
              **run_options) -> SweepResult:
    """Run the grid of `params` over `spec`'s options and tabulate `metric` per point.

    Args:
        selection: the utterances.
        spec: the codec spec every point starts from (e.g. `ladiffcodec@1.5`).
        params: option name -> values (one or two options), e.g. {"tau": ["25", "50"], "gamma": ["0", "0.3"]}.
        metric: the metric tabulated and plotted (its column must be the metric's only column).
        out: the run directory (run outputs, `sweep.csv`, `sweep.png`).
        extra_metrics: more metrics to compute and store.
        decode_seeds: decodes per utterance of every grid point that decodes stochastically and does not set
            `seeds` (`with_decode_seeds`, applied per point: a deterministic `diffusion=off` point is decoded once).
        run_options: passed to `run_benchmark` (workers, resume, overwrite, seed, device, progress, command).

    Raises:
        ValueError: a bad grid or metric (before any work is done).
    """
    base = parse_spec(spec) if isinstance(spec, str) else spec
    grid = [(point, with_decode_seeds([point_spec], decode_seeds)[0]) for point, point_spec in grid_specs(base, params)]
    columns = metric_columns([metric])
    if columns != [metric]:
        raise ValueError(f"sweep a metric with one column named like it, not {metric!r} (columns {columns})")
    metrics = [metric, *[m for m in extra_metrics or [] if m != metric]]
    run = run_benchmark(selection, [s for _, s in grid], metrics, out, **run_options)
    table = sweep_table(run.rows, run.summary, grid, metric)
    write_csv(table, run.out / TABLE)
    title = f"{base} on {selection.dataset} {selection.split} ({len(selection.utterances)} utterances)"
    figure = plot_sweep(table, list(params), metric, title, run.out / FIGURE)
    return SweepResult(run, table, figure)
