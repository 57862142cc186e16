"""Objective ↔ subjective: how well each metric's per-condition mean tracks the MUSHRA mean.

MUSHRA conditions are codec specs (plus `reference` and the low-pass anchors), so a condition is joined
to the run's spec of the same name. Pearson, Spearman and Kendall coefficients come from scipy.stats.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from codecbench.report.document import Cell, Grid, fmt, fmt_p
from codecbench.report.sources import MetricColumn, MushraData

MIN_CONDITIONS = 3
# Metrics that reward matching the reference waveform sample by sample. A generative decoder (diffusion,
# GAN, vocoder) synthesises its own phase and fine structure, so these scores fall even when listeners
# hear no loss: do not rank generative codecs by them.
MISLEADING_FOR_GENERATIVE = {
    "si_sdr": "SI-SDR compares waveforms sample by sample; generated phase scores badly however good it sounds",
    "sdr": "SDR compares waveforms sample by sample",
    "snr": "SNR compares waveforms sample by sample",
    "seg_snr": "segmental SNR compares waveforms sample by sample",
    "mse": "a waveform distance",
    "l1": "a waveform distance",
}
COLUMNS = ["metric", "n_conditions", "pearson_r", "pearson_p", "spearman_rho", "spearman_p", "kendall_tau",
           "kendall_p", "caution"]


def joined_scores(table: pd.DataFrame, metric: MetricColumn, mushra: MushraData) -> pd.DataFrame:
    """condition, mushra (mean), objective (mean) for every condition in both, in MUSHRA order."""
    objective = table.set_index("spec")[f"{metric.column}_mean"]
    joined = mushra.summary[mushra.summary["condition"].isin(objective.index)]
    joined = pd.DataFrame({"condition": joined["condition"].to_numpy(), "mushra": joined["mean"].to_numpy(dtype=float),
                           "objective": objective.reindex(joined["condition"]).to_numpy(dtype=float)})
    return joined[np.isfinite(joined["mushra"]) & np.isfinite(joined["objective"])].reset_index(drop=True)


def _coefficient(function, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan")  # undefined for a constant input
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = function(x, y)
    return float(result.statistic), float(result.pvalue)


def correlations(table: pd.DataFrame, metrics: list[MetricColumn], mushra: MushraData) -> pd.DataFrame:
    """One row per metric: coefficients and p-values over the conditions in both (NaN below 3)."""
    records = []
    for metric in metrics:
        joined = joined_scores(table, metric, mushra)
        record = {"metric": metric.column, "n_conditions": len(joined),
                  "caution": MISLEADING_FOR_GENERATIVE.get(metric.column, "")}
        for key, p_key, function in (("pearson_r", "pearson_p", stats.pearsonr),
                                     ("spearman_rho", "spearman_p", stats.spearmanr),
                                     ("kendall_tau", "kendall_p", stats.kendalltau)):
            value, p = ((float("nan"), float("nan")) if len(joined) < MIN_CONDITIONS else
                        _coefficient(function, joined["objective"].to_numpy(), joined["mushra"].to_numpy()))
            record.update({key: value, p_key: p})
        records.append(record)
    return pd.DataFrame(records, columns=COLUMNS)


def correlation_grid(result: pd.DataFrame, mushra: MushraData) -> Grid:
    rows = []
    for _, r in result.iterrows():
        flag = "⚠ " if r["caution"] else ""
        rows.append([Cell(flag + r["metric"]), Cell(str(r["n_conditions"])),
                     Cell(f"{fmt(r['pearson_r'], 3)} (p {fmt_p(r['pearson_p'])})"),
                     Cell(f"{fmt(r['spearman_rho'], 3)} (p {fmt_p(r['spearman_p'])})"),
                     Cell(f"{fmt(r['kendall_tau'], 3)} (p {fmt_p(r['kendall_p'])})")])
    notes = [f"Per-condition means of each metric vs the MUSHRA mean ({mushra.source.name}); conditions are joined "
             f"to specs by name; at least {MIN_CONDITIONS} conditions are needed. A negative coefficient for a "
             "lower-is-better metric means it tracks listeners."]
    notes += [f"⚠ {r['metric']}: {r['caution']}; misleading for generative decoders." for _, r in result.iterrows()
              if r["caution"]]
    notes += mushra.notes
    return Grid("mushra-correlation", "Objective metrics vs MUSHRA", ["metric", "conditions", "Pearson r",
                                                                     "Spearman ρ", "Kendall τ"], rows, notes)
