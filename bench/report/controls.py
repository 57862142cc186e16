"""Every diffusion spec of a run beside its own control: the same codec with `diffusion=off` (the condition estimate
decoded by the same decoder from the same bits, the denoiser bypassed).

A spec's control is the run's spec of the same codec, operating point and options with `diffusion=off`, ignoring
the options that only steer the sampler or the decode (`SAMPLER_OPTIONS`): `ladiffcodec@1.5:sampler=ddim` and
`ladiffcodec@1.5` share `ladiffcodec@1.5:diffusion=off`. Pairs join on (utterance, input SHA-256) and, in
condition runs, channel and input. A metric column of a multi-seed spec is already the mean over its decoder seeds
per utterance (`codecbench.pipeline.score`), so the difference's CI runs over utterances of seed means.
Wilcoxon signed-rank per pair, Holm-corrected per metric over the run's pairs (`codecbench.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from codecbench.codecs.spec import CodecSpec, parse_spec
from codecbench.report.document import Block, Cell, Grid, fmt, fmt_p
from codecbench.report.sources import JOIN_KEY, MetricColumn
from codecbench.rows import N_SEEDS, SEED_STD_SUFFIX
from codecbench.stats import DEFAULT, CiMethod, holm, mean_ci, wilcoxon_paired

CONTROL_OPTION, CONTROL_VALUE = "diffusion", "off"
SAMPLER_OPTIONS = frozenset({CONTROL_OPTION, "sampler", "steps", "tau", "gamma", "variance", "seeds", "compile",
                             "dtype"})
COLUMNS = ["metric", "spec", "control", "n_pairs", "mean", "control_mean", "mean_diff", "diff_ci95_low",
           "diff_ci95_high", "better", "seed_std", "statistic", "p_value", "p_holm", "note"]


@dataclass
class Controls:
    """The paired comparisons, the diffusion specs of the run that have no control, and those decoded once
    (no seed spread)."""

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
    that are not the sampler's (`exact`: every option but `diffusion`)."""
    cls = _codec_class(spec.name)
    point = spec.point
    if point is None and cls is not None and cls.default_point is not None:
        point = parse_spec(f"{spec.name}@{cls.default_point}").point
    ignored = {CONTROL_OPTION} if exact else SAMPLER_OPTIONS
    return spec.name, point, tuple(sorted((k, v) for k, v in spec.options.items() if k not in ignored))


def has_diffusion_option(name: str) -> bool:
    """Whether the registered codec `name` takes `diffusion=on|off`."""
    cls = _codec_class(name)
    return cls is not None and CONTROL_OPTION in cls.options


def control_pairs(specs: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(diffusion spec, its control) pairs among `specs`, and the diffusion specs without a control."""
    parsed = {s: parse_spec(s) for s in specs}
    is_control = {s: p.options.get(CONTROL_OPTION) == CONTROL_VALUE for s, p in parsed.items()}
    controls = {_key(p): s for s, p in parsed.items() if is_control[s]}
    exact = {_key(p, exact=True): s for s, p in parsed.items() if is_control[s]}  # same options: preferred
    pairs, missing = [], []
    for spec, p in parsed.items():
        if is_control[spec] or not has_diffusion_option(p.name):
            continue
        control = exact.get(_key(p, exact=True), controls.get(_key(p)))
        if control is None:
            missing.append(spec)
        else:
            pairs.append((spec, control))
    return pairs, missing


def _paired(rows: pd.DataFrame, spec: str, control: str, column: str) -> pd.DataFrame:
    keys = JOIN_KEY + [c for c in ("channel", "input") if c in rows]
    wanted = [column] + ([column + SEED_STD_SUFFIX] if column + SEED_STD_SUFFIX in rows else [])
    a = rows.loc[rows["spec"] == spec, keys + wanted].set_index(keys)
    b = rows.loc[rows["spec"] == control, keys + [column]].set_index(keys)
    joined = a.merge(b, left_index=True, right_index=True, suffixes=("", "_control"))
    return joined.dropna(subset=[column, column + "_control"])


def compare_controls(rows: pd.DataFrame, specs: list[str], metrics: list[MetricColumn],
                     method: CiMethod = DEFAULT) -> Controls:
    """One row per (metric, diffusion spec with a control): means, the paired difference (spec − control) with
    its CI over utterances, how many utterances the spec scored better, the mean seed SD of the spec, Wilcoxon p
    and Holm-adjusted p (per metric)."""
    pairs, missing = control_pairs(specs)
    records = []
    for metric in metrics:
        first = len(records)
        for spec, control in pairs:
            joined = _paired(rows, spec, control, metric.column)
            a, b = joined[metric.column].to_numpy(float), joined[metric.column + "_control"].to_numpy(float)
            diff = mean_ci(a - b, method)
            better = int(np.sum(a > b) if metric.higher_is_better else np.sum(a < b))
            seed_column = metric.column + SEED_STD_SUFFIX
            seed_std = float(joined[seed_column].mean()) if seed_column in joined else float("nan")
            test = wilcoxon_paired(a, b)
            records.append({"metric": metric.column, "spec": spec, "control": control, "n_pairs": len(joined),
                            "mean": float(np.mean(a)) if len(a) else float("nan"),
                            "control_mean": float(np.mean(b)) if len(b) else float("nan"),
                            "mean_diff": diff.mean, "diff_ci95_low": diff.low, "diff_ci95_high": diff.high,
                            "better": better, "seed_std": seed_std, "statistic": test.statistic,
                            "p_value": test.p_value, "p_holm": float("nan"), "note": test.note})
        tested = [i for i in range(first, len(records)) if np.isfinite(records[i]["p_value"])]
        for i, p in zip(tested, holm([records[i]["p_value"] for i in tested]) if tested else []):
            records[i]["p_holm"] = float(p)
    diffusion = [s for s in specs if has_diffusion_option(parse_spec(s).name)
                 and parse_spec(s).options.get(CONTROL_OPTION) != CONTROL_VALUE]
    one_seed = [s for s in diffusion if N_SEEDS not in rows or not (rows.loc[rows["spec"] == s, N_SEEDS] > 1).any()]
    return Controls(pd.DataFrame(records, columns=COLUMNS), missing, one_seed)


def controls_blocks(controls: Controls, metrics: list[MetricColumn], method: CiMethod = DEFAULT) -> list[Block]:
    """The section's table (one row per diffusion spec and metric) and the list of specs lacking a control."""
    blocks: list[Block] = []
    if not controls.table.empty:
        by_column = {m.column: m for m in metrics}
        rows = []
        for _, r in controls.table.iterrows():
            m = by_column[r["metric"]]
            d = max(m.decimals, 3)  # differences between a point and its control are small
            interval = f"{fmt(r['mean_diff'], d)} [{fmt(r['diff_ci95_low'], d)}, {fmt(r['diff_ci95_high'], d)}]"
            seed_std = fmt(r["seed_std"], d) if np.isfinite(r["seed_std"]) else "–"
            p_holm = fmt_p(r["p_holm"]) if np.isfinite(r["p_holm"]) else (r["note"] or "–")
            rows.append([Cell(r["spec"]), Cell(f"{m.column} {m.arrow}"), Cell(fmt(r["mean"], d)),
                         Cell(fmt(r["control_mean"], d)), Cell(interval), Cell(f"{r['better']}/{r['n_pairs']}"),
                         Cell(seed_std), Cell(p_holm)])
        blocks.append(Grid("diffusion-controls", "Each diffusion spec beside its diffusion=off control",
                           ["spec", "metric", "with diffusion", "diffusion off", "difference [95 % CI]",
                            "utterances better with", "seed SD", "p (Holm)"], rows,
                           ["Control: the same codec, bits and decoder with `diffusion=off` (the condition estimate "
                            "decoded, no denoiser call). Difference = with − off, mean over utterances with its "
                            f"{method.label} CI; a multi-seed spec's score per utterance is its mean over the seeds, "
                            "so the CI runs over utterances of seed means. Seed SD: mean over utterances of the "
                            "per-utterance SD over decoder seeds (– : one seed). p: Wilcoxon signed-rank, "
                            "Holm-corrected per metric over the pairs in this table."]))
    if controls.missing:
        blocks.append("Diffusion specs without a `diffusion=off` control in this run (no paired comparison): "
                      + ", ".join(f"`{s}`" for s in controls.missing)
                      + ". Add e.g. `" + _control_of(controls.missing[0]) + "` to the run.")
    if controls.one_seed:
        blocks.append("Diffusion specs decoded with one seed (no seed spread; `--decode-seeds 3` or `seeds=3` "
                      "measures it): " + ", ".join(f"`{s}`" for s in controls.one_seed) + ".")
    return blocks


def _control_of(spec: str) -> str:
    parsed = parse_spec(spec)
    options = {k: v for k, v in parsed.options.items() if k not in SAMPLER_OPTIONS or k == "seeds"}
    return str(CodecSpec(parsed.name, parsed.point, {**options, CONTROL_OPTION: CONTROL_VALUE}))
