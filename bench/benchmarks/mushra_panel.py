"""A scripted listening panel, end to end through a real `codecbench mushra serve`: registration from a
Prolific-style link, the checks, every trial, the end page; then the exports and `analyze`.

    python -m codecbench.benchmarks.mushra_panel results/mushra-panel-test --listeners 12 --out results/mushra-panel

Attentive listeners hear every stimulus and the Reference for 2-4 times the listening rule's minimum, pass
the headphone screen and rate as `mushra_bot.honest_ratings` does (the condition behind each key is read
from the database, as only the admin can). The careless listener (the last one) skips: it plays each
stimulus exactly as long as the rule forces it to, guesses the headphone screen and rates at random. The
panel passes when `analyze` writes all its outputs and excludes exactly the careless listener, and the
trials export shows who skipped (the least listening time per trial).
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

from codecbench.benchmarks.mushra_bot import conditions_of, honest_ratings
from codecbench.listening_test.analysis import AnalysisResult, analyze
from codecbench.listening_test.client import ListenerClient, playback_events
from codecbench.listening_test.harness import start_server
from codecbench.listening_test.results import ResultsDB
from codecbench.listening_test.testdef import load_test

ANALYSIS_FILES = ("screening.csv", "excluded_listeners.csv", "summary.csv", "item_summary.csv", "anova.csv",
                  "pairwise.csv", "analysis.json", "ratings_by_condition.png", "ratings_by_item.png", "mean_ci.png")


@dataclass(frozen=True)
class PanelResult:
    """What the panel did and what the analysis made of it."""

    careless: str  # the careless listener's id
    listeners: pd.DataFrame  # the listeners export
    trials: pd.DataFrame  # the trials export
    analysis: AnalysisResult
    missing: list[str]  # analysis outputs not written

    def listening(self) -> pd.DataFrame:
        """Per listener: mean listening time per test trial and the least any stimulus was heard, s."""
        test = self.trials[self.trials["phase"] == "test"]
        return test.groupby("listener").agg(trials=("trial", "count"), listening_s=("listening_s", "mean"),
                                            least_heard_s=("least_heard_s", "min")).reset_index()

    def summary(self) -> str:
        excluded = self.analysis.screening.excluded
        lines = [f"{len(self.listeners)} listeners, careless: {self.careless}; excluded by post-screening: "
                 + (", ".join(f"{r.listener} ({r.reason})" for r in excluded.itertuples()) or "none"),
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
            honest_ratings(conditions, rng)
        screen = await client.submit(screen, ratings, playback_events(screen, screen["min_play_ms"] * stretch))
    if screen["screen"] == "done" and not screen.get("answered"):
        await client.answer(screen, {"comment": "rushed" if careless else ""})
    return listener


async def run_panel(url: str, db: Path, listeners: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        client = ListenerClient(http)
        return list(await asyncio.gather(*(panelist(client, db, i, i == listeners - 1, rng)
                                           for i in range(listeners))))


def panel(test_dir: str | Path, folder: str | Path, listeners: int = 12, seed: int = 0) -> PanelResult:
    """Serve `test_dir` on a fresh database in `folder`, run the panel (the last listener careless), export
    ratings, trials and listeners to `folder` and analyse them (headphone screen reported) into `folder/analysis`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "results.sqlite"
    server = start_server(test_dir, db, folder / "server.log", secrets.token_urlsafe(16))
    try:
        ids = asyncio.run(run_panel(server.url, db, listeners, seed))
    finally:
        server.stop()
    results = ResultsDB(db, load_test(test_dir))
    ratings, trials, people = results.ratings(), results.trials(), results.listeners()
    for name, frame in (("ratings", ratings), ("trials", trials), ("listeners", people)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    result = analyze(folder / "ratings.csv", folder / "analysis", listeners=folder / "listeners.csv")
    missing = [name for name in ANALYSIS_FILES if not (folder / "analysis" / name).is_file()]
    return PanelResult(ids[-1], people, trials, result, missing)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `codecbench mushra build`")
    parser.add_argument("--out", required=True, help="folder for the database, exports and analysis")
    parser.add_argument("--listeners", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(panel(args.test_dir, args.out, args.listeners, args.seed).summary())


if __name__ == "__main__":
    main()
