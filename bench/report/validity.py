"""The report's "Which metrics to trust" section: how well each metric agreed with listeners.

It always shows the shipped measurement (`data/metric_validity.csv`: `codecbench validity` on the public MUSHRA
test of Stahl et al. 2024, neural speech codecs with GAN-trained and vocoder decoders); with `--mushra DIR`
where DIR holds a `codecbench validity` output (`validity.csv`), the user's own too. For a run holding
generative codecs it names the run's metrics the measurement supports and those it contradicts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from codecbench.report.document import Block, Grid, Section, cells, fmt

SHIPPED = Path(__file__).parent / "data" / "metric_validity.csv"
SHIPPED_SOURCE = ("`codecbench validity` on the MUSHRA ratings of Stahl, Windtner & Sontacchi, IEEE Access 12, "
                  "2024 (doi:10.1109/ACCESS.2024.3482359, CC BY 4.0): 7 neural codec conditions (Lyra 3/6, AudioDec, "
                  "four mel-vocoder variants), 16 items, 19 listeners after BS.1534-3 screening; reference and anchor "
                  "excluded; 95 % CIs from 2000 bootstrap replicates resampling items and listeners")
# Codecs whose decoder synthesises rather than reconstructs the waveform: diffusion, GAN-trained and vocoder
# decoders (the kind the shipped measurement rated).
GENERATIVE = {"ladiffcodec", "latent2mel", "melvq-ddpm", "mel2mel", "gan-mel", "mel2wave", "latent2wave", "lyra",
              "encodec", "encodec16", "dac"}
SUPPORT_CONDITION_RHO = 0.5  # supported: condition-level Spearman at least this, and stimulus-level CI above 0
TARGET = {"condition": 0.9, "stimulus": 0.5}  # Spearman a metric needs to rank generative codecs on its own


def read_validity(path: str | Path) -> pd.DataFrame:
    """A validity table (`validity.csv` of `codecbench validity`, or the shipped `metric_validity.csv`).

    Raises:
        ValueError: a file without the validity columns.
    """
    table = pd.read_csv(path)
    missing = {"metric", "level", "correlation", "agreement", "ci95_low", "ci95_high", "n"} - set(table.columns)
    if missing:
        raise ValueError(f"{path} is not a validity table: it lacks {sorted(missing)}")
    return table


def verdicts(table: pd.DataFrame, metrics: list[str]) -> tuple[list[str], list[str]]:
    """Of `metrics`, those the measurement supports (condition-level Spearman >= `SUPPORT_CONDITION_RHO` and a
    stimulus-level Spearman CI above 0) and those it contradicts (condition-level Spearman <= 0: they rank the
    codecs against, or regardless of, the listeners)."""
    spearman = table[table["correlation"] == "spearman"].set_index(["metric", "level"])
    supported, contradicted = [], []
    for metric in metrics:
        if (metric, "condition") not in spearman.index:
            continue
        condition, stimulus = spearman.loc[(metric, "condition")], spearman.loc[(metric, "stimulus")]
        if condition["agreement"] >= SUPPORT_CONDITION_RHO and stimulus["ci95_low"] > 0:
            supported.append(metric)
        elif condition["agreement"] <= 0:
            contradicted.append(metric)
    return supported, contradicted


def meeting_target(table: pd.DataFrame) -> list[str]:
    """The metrics whose Spearman agreement reaches `TARGET` at both levels."""
    spearman = table[table["correlation"] == "spearman"].pivot(index="metric", columns="level", values="agreement")
    return [m for m, r in spearman.iterrows() if all(r[level] >= rho for level, rho in TARGET.items())]


def target_sentence(table: pd.DataFrame) -> str:
    """Whether any metric reaches `TARGET`, in words."""
    met = meeting_target(table)
    goal = f"condition-level Spearman ≥ {TARGET['condition']} and stimulus-level ≥ {TARGET['stimulus']}"
    if met:
        return f"Metrics reaching {goal}: {', '.join(met)}."
    return f"No metric here reaches {goal}: none can rank such codecs in place of listeners."


def validity_grid(table: pd.DataFrame, label: str, caption: str, notes: list[str]) -> Grid:
    """Spearman agreement at both levels, and Pearson at stimulus level, per metric (ranked order)."""
    spearman = table[table["correlation"] == "spearman"].set_index(["metric", "level"])
    pearson = table[table["correlation"] == "pearson"].set_index(["metric", "level"])
    order = list(dict.fromkeys(table.sort_values("rank")["metric"] if "rank" in table else table["metric"]))

    def interval(frame: pd.DataFrame, key: tuple[str, str]) -> str:
        r = frame.loc[key]
        return f"{fmt(r['agreement'], 2)} [{fmt(r['ci95_low'], 2)}, {fmt(r['ci95_high'], 2)}]"

    rows = [cells(m, interval(spearman, (m, "condition")), interval(spearman, (m, "stimulus")),
                  interval(pearson, (m, "stimulus"))) for m in order]
    return Grid(label, caption, ["metric", "condition ρ [95 % CI]", "stimulus ρ [95 % CI]", "stimulus r [95 % CI]"],
                rows, notes)


def validity_section(codecs: list[str], metrics: list[str], mushra: str | Path | None = None) -> Section:
    """The section: the shipped table, the user's own (a `codecbench validity` output at `mushra`), and for
    generative `codecs` the verdict on the run's `metrics`."""
    shipped = read_validity(SHIPPED)
    notes = ["Agreement is the correlation oriented so that +1 means the metric orders stimuli as listeners do "
             "(lower-is-better metrics negated). Condition level: per-condition means (7 points); stimulus level: "
             "each item x condition (112 points)."]
    blocks: list[Block] = [validity_grid(shipped, "validity_shipped", f"Agreement with listeners: {SHIPPED_SOURCE}",
                                         notes), target_sentence(shipped)]
    generative = sorted({c for c in codecs if c in GENERATIVE})
    if generative:
        supported, contradicted = verdicts(shipped, metrics)
        blocks.append(
            f"This run holds generative codecs ({', '.join(generative)}). Of its metrics, the measurement above "
            f"supports {', '.join(supported) or 'none'} (condition ρ ≥ {SUPPORT_CONDITION_RHO}, stimulus ρ CI above 0) "
            f"and contradicts {', '.join(contradicted) or 'none'} (condition ρ ≤ 0: it ranks such codecs against "
            "the listeners); do not rank these codecs by a contradicted metric. The rest are unsettled.")
    own = _own(mushra)
    if own is not None:
        table = read_validity(own)
        blocks += [validity_grid(table, "validity_own", f"Agreement with your listeners ({own})", []),
                   target_sentence(table)]
    return Section("Which metrics to trust", blocks)


def _own(mushra: str | Path | None) -> Path | None:
    """The user's `validity.csv` beside or in `mushra` (None: there is none)."""
    if mushra is None:
        return None
    path = Path(mushra)
    for candidate in (path / "validity.csv", path.parent / "validity.csv", path.parent.parent / "validity.csv"):
        if candidate.is_file():
            return candidate
    return None
