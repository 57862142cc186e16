"""A scripted listening panel, end to end through a real `codecbench mushra serve`: registration from a
Prolific-style link, the checks, every trial, the end page; then the exports and `analyze`.

    python -m codecbench.benchmarks.mushra_panel results/mushra-panel-test --listeners 12 --out results/mushra-panel
    python -m codecbench.benchmarks.mushra_panel TESTDIR --listeners 8 --careless 0 --bots 3 --out DIR

Attentive listeners hear every stimulus and the Reference for 2-4 times the listening rule's minimum, pass
the headphone screen and rate as `mushra_bot.honest_ratings` does, hearing more bits as better
(`mushra_bot.by_bitrate`) (the condition behind each key is read
from the database, as only the admin can). The careless listener (the last one) skips: it plays each
stimulus exactly as long as the rule forces it to, guesses the headphone screen and rates at random. The
panel passes when `analyze` writes all its outputs and excludes exactly the careless listener, and the
trials export shows who skipped (the least listening time per trial).

With `--bots N`, N patient similarity bots (`mushra_bot.similarity_bot`) join: they wait out the server's
wall-clock rule, pass the headphone screen from the audio and rate by waveform similarity. The summary
says which bots post-screening excluded and compares the ranking of the conditions by the kept
listeners' means with the ranking by the honest listeners alone.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from codecbench.benchmarks.mushra_bot import by_bitrate, conditions_of, honest_ratings, similarity_bot
from codecbench.listening_test.analysis import AnalysisResult, analyze
from codecbench.listening_test.client import ListenerClient, playback_events
from codecbench.listening_test.harness import start_server
from codecbench.listening_test.results import ResultsDB
from codecbench.listening_test.testdef import load_test
from codecbench.listening_test.traps import without_traps
from codecbench.safecsv import write_csv

ANALYSIS_FILES = ("screening.csv", "excluded_listeners.csv", "summary.csv", "item_summary.csv", "anova.csv",
                  "pairwise.csv", "analysis.json", "ratings_by_condition.png", "ratings_by_item.png", "mean_ci.png")


@dataclass(frozen=True)
class PanelResult:
    """What the panel did and what the analysis made of it."""

    careless: list[str]  # the careless listeners' ids
    bots: list[str]  # the similarity bots' ids
    honest: list[str]  # the attentive listeners' ids
    ratings: pd.DataFrame  # the ratings export
    listeners: pd.DataFrame  # the listeners export
    trials: pd.DataFrame  # the trials export
    analysis: AnalysisResult
    missing: list[str]  # analysis outputs not written

    def listening(self) -> pd.DataFrame:
        """Per listener: mean listening time per test trial and the least any stimulus was heard, s."""
        test = self.trials[self.trials["phase"] == "test"]
        return test.groupby("listener").agg(trials=("trial", "count"), listening_s=("listening_s", "mean"),
                                            least_heard_s=("least_heard_s", "min")).reset_index()

    def ranking(self, listeners: list[str]) -> list[str]:
        """The conditions by these listeners' mean test rating, best first (trapping trials are no condition)."""
        test = without_traps(self.ratings[(self.ratings["phase"] == "test") & self.ratings["listener"].isin(listeners)])
        return test.groupby("condition")["rating"].mean().sort_values(ascending=False, kind="stable").index.tolist()

    def agreement(self) -> pd.Series:
        """Per listener: Spearman correlation of their mean test rating per condition with the other
        listeners' (a diagnostic, not a screening rule)."""
        test = without_traps(self.ratings[self.ratings["phase"] == "test"])
        means = test.pivot_table(index="condition", columns="listener", values="rating", aggfunc="mean")
        return pd.Series({who: means[who].corr(means.drop(columns=who).mean(axis=1), method="spearman")
                          for who in means.columns}, name="agreement")

    def summary(self) -> str:
        excluded = self.analysis.screening.excluded
        everyone = self.honest + self.careless + self.bots
        lines = [f"{len(self.listeners)} listeners, careless: {self.careless or 'none'}, similarity bots: "
                 f"{self.bots or 'none'}; excluded by post-screening: "
                 + (", ".join(f"{r.listener} ({r.reason})" for r in excluded.itertuples()) or "none"),
                 f"bots excluded: {sorted(set(self.bots) & set(excluded['listener']))} of {self.bots}",
                 f"ranking, honest listeners only: {self.ranking(self.honest)}",
                 f"ranking, everyone:              {self.ranking(everyone)}",
                 f"ranking, kept after screening:  {self.ranking(self.analysis.screening.kept)}",
                 "agreement with the others (Spearman over condition means): " + ", ".join(
                     f"{who}{'*' if who in self.bots else ''} {value:.2f}" for who, value in self.agreement().items()),
                 f"analysis outputs missing: {self.missing or 'none'}",
                 "listening per test trial (s):",
                 self.listening().to_string(index=False, float_format=lambda v: f"{v:.1f}")]
        return "\n".join(lines)


def hidden_targets(db: Path, listener: str) -> dict[str, int]:
    """The headphone screen's answers {round key: noise with the tone} (what a listener with headphones hears)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT key, target FROM headphone_rounds WHERE listener = ?", (listener,)))


async def panelist(client: ListenerClient, db: Path, index: int, careless: bool, rng: np.random.Generator) -> str:
    """One listener from registration to the end page's answers; returns their listener id."""
    link = {"PROLIFIC_PID": f"pid{index:03d}{secrets.token_hex(4)}", "STUDY_ID": "panel", "SESSION_ID": f"s{index}"}
    screen = await client.start(f"panelist-{index}", expertise=None, headphones="" if careless else "studio headphones",
                                link=link)
    listener = screen["listener"]
    if screen["screen"] == "level":
        targets = hidden_targets(db, listener)
        screen = await client.checks(screen, lambda key, audio: int(rng.integers(1, 4)) if careless else targets[key])
    while screen["screen"] == "trial":
        await client.fetch(screen)
        conditions = conditions_of(db, [s["key"] for s in screen["stimuli"]])
        stretch = 1.0 if careless else rng.uniform(2, 4)  # times the rule's minimum on each stimulus
        ratings = {key: int(rng.integers(0, 101)) for key in conditions} if careless else \
            honest_ratings(conditions, rng, by_bitrate)
        screen = await client.submit(screen, ratings, playback_events(screen, screen["min_play_ms"] * stretch))
    if screen["screen"] == "done" and not screen.get("answered"):
        await client.answer(screen, {"comment": "rushed" if careless else ""})
    return listener


async def run_panel(url: str, db: Path, listeners: int, seed: int, careless: int = 1,
                    bots: int = 0) -> tuple[list[str], list[str]]:
    """(the listeners' ids, the last `careless` of them careless; the bots' ids)."""
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        client = ListenerClient(http)
        people = [panelist(client, db, i, i >= listeners - careless, rng) for i in range(listeners)]
        robots = [similarity_bot(client, f"bot-{i}", {"PROLIFIC_PID": f"bot{i:03d}{secrets.token_hex(4)}",
                                                      "STUDY_ID": "panel", "SESSION_ID": f"b{i}"})
                  for i in range(bots)]
        ids = await asyncio.gather(*people, *robots)
    return list(ids[:listeners]), list(ids[listeners:])


def panel(test_dir: str | Path, folder: str | Path, listeners: int = 12, seed: int = 0, careless: int = 1,
          bots: int = 0) -> PanelResult:
    """Serve `test_dir` on a fresh database in `folder`, run the panel (the last `careless` listeners
    careless) and `bots` similarity bots, export ratings, trials and listeners to `folder` and analyse them
    (headphone screen reported, timing rule applied) into `folder/analysis`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "results.sqlite"
    server = start_server(test_dir, db, folder / "server.log", secrets.token_urlsafe(16), timeout_s=600)
    try:
        ids, robots = asyncio.run(run_panel(server.url, db, listeners, seed, careless, bots))
    finally:
        server.stop()
    results = ResultsDB(db, load_test(test_dir))
    ratings, trials, people = results.ratings(), results.trials(), results.listeners()
    for name, frame in (("ratings", ratings), ("trials", trials), ("listeners", people)):
        write_csv(frame, folder / f"{name}.csv", private=True)
    result = analyze(folder / "ratings.csv", folder / "analysis", listeners=folder / "listeners.csv")
    missing = [name for name in ANALYSIS_FILES if not (folder / "analysis" / name).is_file()]
    split = listeners - careless
    return PanelResult(ids[split:], robots, ids[:split], ratings, people, trials, result, missing)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `codecbench mushra build`")
    parser.add_argument("--out", required=True, help="folder for the database, exports and analysis")
    parser.add_argument("--listeners", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--careless", type=int, default=1, help="how many of the listeners are careless")
    parser.add_argument("--bots", type=int, default=0, help="patient similarity bots beside the listeners")
    args = parser.parse_args(argv)
    print(panel(args.test_dir, args.out, args.listeners, args.seed, args.careless, args.bots).summary())


if __name__ == "__main__":
    main()
