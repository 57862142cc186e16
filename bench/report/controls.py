"""The diffusion design space of a run, each point beside its own control: the same codec with `diffusion=off` (the
condition estimate decoded by the same decoder from the same bits, the denoiser bypassed) and its decode-seed spread.

The table has one row per (metric, design-space spec of the run): every spec of a codec that declares a
`design_point` (the diffusion codecs and the baselines without diffusion that share their bits), once the run
holds a diffusion spec; controls appear as the columns of their diffusion spec, not as rows.

A spec's control is the run's spec of the same codec, operating point and options with `diffusion=off`, ignoring
the options that only steer the sampler or the decode (`SAMPLER_OPTIONS`): `ladiffcodec@1.5:sampler=ddim` and
`ladiffcodec@1.5` share `ladiffcodec@1.5:diffusion=off`. Pairs join on (utterance, input SHA-256) and, in
condition runs, channel and input. A metric column of a multi-seed spec is already the mean over its decoder seeds
per utterance (`codecbench.pipeline.score`), so the difference's CI runs over utterances of seed means: the
variance of those means holds the between-seed variance / K beside the between-utterance variance, so the CI
accounts for the seed noise of the mean it states.
Wilcoxon signed-rank per pair, Holm-corrected per metric over the run's pairs (`codecbench.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from codecbench.codecs.registry import DEFAULT_DECODE_SEEDS
from codecbench.codecs.spec import CodecSpec, parse_spec
from codecbench.report.document import Block, Cell, Grid, fmt, fmt_p
from codecbench.report.sources import JOIN_KEY, MetricColumn
from codecbench.rows import N_SEEDS, SEED_STD_SUFFIX
from codecbench.stats import DEFAULT, CiMethod, holm, mean_ci, wilcoxon_paired

CONTROL_OPTION, CONTROL_VALUE = "diffusion", "off"
SAMPLER_OPTIONS = frozenset({CONTROL_OPTION, "sampler", "steps", "tau", "gamma", "variance", "seeds", "compile",
                             "dtype"})
DENOISER_CALLS = "denoiser_calls"
COLUMNS = ["metric", "design_point", "spec", "control", "n", "n_pairs", "measured_kbps", "denoiser_calls",
           "n_seeds", "mean", "seed_std", "control_mean", "control_seed_std", "mean_diff", "diff_ci95_low",
           "diff_ci95_high", "better", "statistic", "p_value", "p_holm", "note"]
NO_DIFFUSION, NO_CONTROL, NOT_IN_RUN = ("no diffusion stage (a baseline on the same bits)",
                                        "no control: its condition is no estimate of the waveform",
                                        "control not in this run")


@dataclass
class Controls:
    """The design-space table (paired rows for the specs with a control, the others with a note), the
    diffusion specs of the run that could have a control and have none, and those decoded once (no seed
    spread)."""

    table: pd.DataFrame
    missing: list[str]
    one_seed: list[str]


def _codec_class(name: str) -> type | None:
    """The registered codec class `name`, or None for unknown or unloadable codecs."""
    from codecbench.codecs.registry import get_codec_class
    from codecbench.plugins import RegistryError

    try:
        return get_codec_class(name)
    except (RegistryError, ValueError, ImportError):
        return None


def _key(spec: CodecSpec, exact: bool = False) -> tuple:
    """What a spec and its control share: codec, operating point (the default one written out) and the options
    that are not the sampler's (`exact`: every option but `diffusion` and `seeds`)."""
    cls = _codec_class(spec.name)
    point = spec.point
    if point is None and cls is not None and cls.default_point is not None:
        point = parse_spec(f"{spec.name}@{cls.default_point}").point
    ignored = {CONTROL_OPTION, "seeds"} if exact else SAMPLER_OPTIONS
    return spec.name, point, tuple(sorted((k, v) for k, v in spec.options.items() if k not in ignored))


def has_diffusion_option(name: str) -> bool:
    """Whether the registered codec `name` takes `diffusion=on|off`."""
    cls = _codec_class(name)
    return cls is not None and CONTROL_OPTION in cls.options


def has_control(name: str) -> bool:
    """Whether the registered codec `name` has a `diffusion=off` control (its condition estimates its output)."""
    return has_diffusion_option(name) and bool(getattr(_codec_class(name), "has_estimate", False))


def design_point(name: str) -> str:
    """The registered codec's place in the design space (conditioning → output), or "" when it has none."""
    return str(getattr(_codec_class(name), "design_point", "") or "")


def _is_control(spec: CodecSpec) -> bool:
    return spec.options.get(CONTROL_OPTION) == CONTROL_VALUE


def control_pairs(specs: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(diffusion spec, its control) pairs among `specs`, and the diffusion specs that could have a control
    and have none."""
    parsed = {s: parse_spec(s) for s in specs}
    controls = {_key(p): s for s, p in parsed.items() if _is_control(p)}
    exact = {_key(p, exact=True): s for s, p in parsed.items() if _is_control(p)}  # same options: preferred
    pairs, missing = [], []
    for spec, p in parsed.items():
        if _is_control(p) or not has_control(p.name):
            continue
        control = exact.get(_key(p, exact=True), controls.get(_key(p)))
        if control is None:
            missing.append(spec)
        else:
            pairs.append((spec, control))
    return pairs, missing


def _keys(rows: pd.DataFrame) -> list[str]:
    return JOIN_KEY + [c for c in ("channel", "input") if c in rows]


def _paired(rows: pd.DataFrame, spec: str, control: str, column: str) -> pd.DataFrame:
    keys = _keys(rows)
    seed_column = column + SEED_STD_SUFFIX
    wanted = [column] + ([seed_column] if seed_column in rows else [])
    a = rows.loc[rows["spec"] == spec, keys + wanted].set_index(keys)
    b = rows.loc[rows["spec"] == control, keys + wanted].set_index(keys)
    joined = a.merge(b, left_index=True, right_index=True, suffixes=("", "_control"))
    return joined.dropna(subset=[column, column + "_control"])


def _spec_facts(rows: pd.DataFrame, spec: str) -> dict[str, float]:
    """What the table states of a spec beyond its scores: measured kbps, network evaluations, decodes."""
    own = rows.loc[rows["spec"] == spec]
    seeds = own[N_SEEDS].max() if N_SEEDS in own else float("nan")
    calls = own[DENOISER_CALLS].mean() if DENOISER_CALLS in own else float("nan")
    return {"measured_kbps": float(own["measured_kbps"].mean()) if "measured_kbps" in own else float("nan"),
            "denoiser_calls": float(calls) if np.isfinite(calls) else 0.0,
            "n_seeds": float(seeds) if np.isfinite(seeds) else 1.0}


def _seed_std(frame: pd.DataFrame, column: str) -> float:
    """Mean over utterances of the per-utterance SD over decoder seeds (NaN: one decode)."""
    return float(frame[column].mean()) if column in frame and frame[column].notna().any() else float("nan")


def _record(metric: MetricColumn, rows: pd.DataFrame, spec: str, control: str | None, note: str,
            method: CiMethod) -> dict:
    column, seed_column = metric.column, metric.column + SEED_STD_SUFFIX
    own = rows.loc[rows["spec"] == spec]
    record = {"metric": column, "design_point": design_point(parse_spec(spec).name), "spec": spec,
              "control": control or "", "n": int(own[column].notna().sum()) if column in own else 0, "n_pairs": 0,
              **_spec_facts(rows, spec), "mean": float(own[column].mean()) if column in own else float("nan"),
              "seed_std": _seed_std(own, seed_column), "control_mean": float("nan"),
              "control_seed_std": float("nan"), "mean_diff": float("nan"), "diff_ci95_low": float("nan"),
              "diff_ci95_high": float("nan"), "better": float("nan"), "statistic": float("nan"),
              "p_value": float("nan"), "p_holm": float("nan"), "note": note}
    if control is None:
        return record
    joined = _paired(rows, spec, control, column)
    a, b = joined[column].to_numpy(float), joined[column + "_control"].to_numpy(float)
    diff, test = mean_ci(a - b, method), wilcoxon_paired(a, b)
    record.update({"n_pairs": len(joined), "mean": float(np.mean(a)) if len(a) else float("nan"),
                   "seed_std": _seed_std(joined, seed_column),
                   "control_mean": float(np.mean(b)) if len(b) else float("nan"),
                   "control_seed_std": _seed_std(joined, seed_column + "_control"),
                   "mean_diff": diff.mean, "diff_ci95_low": diff.low, "diff_ci95_high": diff.high,
                   "better": int(np.sum(a > b) if metric.higher_is_better else np.sum(a < b)),
                   "statistic": test.statistic, "p_value": test.p_value, "note": test.note})
    return record


def compare_controls(rows: pd.DataFrame, specs: list[str], metrics: list[MetricColumn],
                     method: CiMethod = DEFAULT) -> Controls:
    """The design-space table: one row per (metric, design-space spec) once the run holds a diffusion spec.
    A spec with a control gets its mean and the control's over the paired utterances, the paired difference
    (spec − control) with its CI over utterances, how many utterances it scored better, both mean seed SDs,
    Wilcoxon p and Holm-adjusted p (per metric, over the pairs); the others their mean and a note."""
    pairs, missing = control_pairs(specs)
    control_of = dict(pairs)
    parsed = {s: parse_spec(s) for s in specs}
    diffusion = [s for s, p in parsed.items() if has_diffusion_option(p.name) and not _is_control(p)]
    shown = sorted((s for s, p in parsed.items() if design_point(p.name) and not _is_control(p)),
                   key=lambda s: (design_point(parsed[s].name), s)) if diffusion else []  # conditioning groups
    records = []
    for metric in metrics:
        first = len(records)
        for spec in shown:
            name = parsed[spec].name
            note = ("" if spec in control_of else NOT_IN_RUN if has_control(name)
                    else NO_CONTROL if has_diffusion_option(name) else NO_DIFFUSION)
            records.append(_record(metric, rows, spec, control_of.get(spec), note, method))
        tested = [i for i in range(first, len(records)) if np.isfinite(records[i]["p_value"])]
        for i, p in zip(tested, holm([records[i]["p_value"] for i in tested]) if tested else []):
            records[i]["p_holm"] = float(p)
    one_seed = [s for s in diffusion if N_SEEDS not in rows or not (rows.loc[rows["spec"] == s, N_SEEDS] > 1).any()]
    return Controls(pd.DataFrame(records, columns=COLUMNS), missing, one_seed)


def _with_sd(value: float, sd: float, decimals: int) -> str:
    return fmt(value, decimals) + (f" ({fmt(sd, decimals)})" if np.isfinite(sd) else "")


def controls_blocks(controls: Controls, metrics: list[MetricColumn], method: CiMethod = DEFAULT) -> list[Block]:
    """The design-space table and the lists of specs lacking a control or decoded with one seed."""
    blocks: list[Block] = []
    if not controls.table.empty:
        by_column = {m.column: m for m in metrics}
        rows = []
        for _, r in controls.table.iterrows():
            m = by_column[r["metric"]]
            d = max(m.decimals, 3)  # differences between a point and its control are small
            paired = bool(r["control"])
            interval = (f"{fmt(r['mean_diff'], d)} [{fmt(r['diff_ci95_low'], d)}, {fmt(r['diff_ci95_high'], d)}]"
                        if paired else r["note"])
            p_holm = fmt_p(r["p_holm"]) if np.isfinite(r["p_holm"]) else (r["note"] or "–") if paired else "–"
            rows.append([Cell(r["design_point"]), Cell(r["spec"]), Cell(f"{m.column} {m.arrow}"),
                         Cell(fmt(r["measured_kbps"], 3)), Cell(f"{r['denoiser_calls']:g}"),
                         Cell(f"{r['n_seeds']:g}"), Cell(_with_sd(r["mean"], r["seed_std"], d)),
                         Cell(_with_sd(r["control_mean"], r["control_seed_std"], d) if paired else "–"),
                         Cell(interval), Cell(f"{r['better']:g}/{r['n_pairs']}" if paired else "–"),
                         Cell(p_holm)])
        blocks.append(Grid("diffusion-controls", "The diffusion design space, each point beside its diffusion=off "
                           "control",
                           ["design point", "spec", "metric", "kbps", "network evaluations", "seeds",
                            "with diffusion (seed SD)", "diffusion off (seed SD)", "difference [95 % CI]",
                            "utterances better with", "p (Holm)"], rows,
                           ["Control: the same codec, bits and decoder with `diffusion=off` (the condition estimate "
                            "decoded, no denoiser call). Difference = with − off, mean over the paired utterances "
                            f"with its {method.label} CI. A multi-seed spec's score per utterance is its mean over "
                            "its decoder seeds, so the CI runs over utterances of seed means and its width carries "
                            "the seed noise left in them. Seed SD: mean over utterances of the per-utterance SD "
                            "over decoder seeds (none: one decode). kbps: measured from the payload; network "
                            "evaluations: denoiser calls per decode. p: Wilcoxon signed-rank, Holm-corrected per "
                            "metric over the pairs in this table."]))
    if controls.missing:
        blocks.append("Diffusion specs without a `diffusion=off` control in this run (no paired comparison): "
                      + ", ".join(f"`{s}`" for s in controls.missing)
                      + ". Add e.g. `" + _control_of(controls.missing[0]) + "` to the run.")
    if controls.one_seed:
        blocks.append("Diffusion specs decoded with one seed (no seed spread; `run` and `sweep` decode "
                      f"{DEFAULT_DECODE_SEEDS} by default, `--decode-seeds` or `seeds=K` sets it): "
                      + ", ".join(f"`{s}`" for s in controls.one_seed) + ".")
    return blocks


def _control_of(spec: str) -> str:
    parsed = parse_spec(spec)
    options = {k: v for k, v in parsed.options.items() if k not in SAMPLER_OPTIONS}
    return str(CodecSpec(parsed.name, parsed.point, {**options, CONTROL_OPTION: CONTROL_VALUE}))
