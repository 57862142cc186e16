"""A scripted ACR, DCR, CCR or A/B panel, end to end through a real `codecbench mushra serve`: registration from a
Prolific-style link, the checks, every trial, the end page; then the exports and `mushra analyze --type`.

    python -m codecbench.benchmarks.choice_panel TESTDIR --out results/acr-panel --listeners 8

Attentive listeners hear every stimulus for 2-4 times the listening rule's minimum and answer from a quality
that grows with the bitrate (`mushra_bot.by_bitrate`; the reference best): ACR and DCR categories around it
(sd 0.5), CCR the difference of the two qualities on the 7-point scale (sd 0.5), A/B the better condition of
the pair 85 % of the time, the worse 10 % (and no preference 5 %, where offered). The careless listener (the
last one) plays each stimulus as long as the rule forces it to and answers "Fair" / "slightly annoying" (ACR,
DCR: fails the gold clip and shows no variance), the first answer listed, "Much better" (CCR: fails the gold
clip, the reference against itself) or "no preference" (A/B) every time. The panel passes when exactly the careless
listener is excluded and the tables rank the conditions by bitrate.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from codecbench.benchmarks.mushra_bot import by_bitrate, conditions_of
from codecbench.benchmarks.mushra_panel import hidden_targets
from codecbench.listening_test.client import ListenerClient, playback_events
from codecbench.listening_test.harness import start_server
from codecbench.listening_test.results import ResultsDB
from codecbench.listening_test.testdef import REFERENCE, load_test
from codecbench.listening_test.types import type_name
from codecbench.listening_test.types.analysis import MEANS, analyze_type
from codecbench.listening_test.types.ccr import OFFSET
from codecbench.safecsv import write_csv


@dataclass(frozen=True)
class ChoicePanelResult:
    """What the panel did and what the analysis made of it."""

    kind: str  # acr, dcr, ccr or ab
    careless: list[str]
    honest: list[str]
    ratings: pd.DataFrame  # the ratings export
    tables: dict[str, pd.DataFrame]  # analyze_type's tables

    def summary(self) -> str:
        screened = self.tables["screening"]
        excluded = screened[screened["excluded"]]
        shown = [MEANS[self.kind]] if self.kind in MEANS else ["preferences", "bradley_terry"]
        return "\n".join([f"{self.kind}: {len(screened)} listeners, careless: {self.careless}; excluded: "
                          + (", ".join(f"{r.listener} ({r.reason})" for r in excluded.itertuples()) or "none")]
                         + [self.tables[name].to_string(index=False, float_format=lambda v: f"{v:.3f}")
                            for name in shown])


def quality(condition: str) -> float:
    """The panel's latent quality of a condition, 0-100: the reference 95, a codec `by_bitrate`."""
    return 95.0 if condition == REFERENCE else by_bitrate(condition)


def acr_answer(condition: str, rng: np.random.Generator) -> int:
    return int(np.clip(np.rint(1 + 4 * quality(condition) / 100 + rng.normal(0, 0.5)), 1, 5))


def ccr_answer(conditions: dict[str, str], rng: np.random.Generator) -> dict[str, int]:
    """The processed stimulus's quality minus the reference's on the 7-point scale (the same vote whichever side
    it is on), given as B compared with A and stored as 3 + c for B, 3 - c for A (`ccr`)."""
    (key_a, a), (key_b, b) = conditions.items()
    processed_is_b = a == REFERENCE
    processed, reference = (b, a) if processed_is_b else (a, b)
    vote = int(np.clip(np.rint((quality(processed) - quality(reference)) * 6 / 100 + rng.normal(0, 0.5)), -3, 3))
    c = vote if processed_is_b else -vote
    return {key_a: OFFSET - c, key_b: OFFSET + c}


def ab_answer(conditions: dict[str, str], rng: np.random.Generator, no_preference: bool) -> dict[str, int]:
    (key_a, a), (key_b, b) = conditions.items()
    draw = rng.random()
    if no_preference and draw < 0.05:
        return {key_a: 50, key_b: 50}
    better_a = quality(a) >= quality(b)
    prefer_a = better_a if draw < 0.90 else not better_a
    return {key_a: 100 if prefer_a else 0, key_b: 0 if prefer_a else 100}


async def panelist(client: ListenerClient, db: Path, kind: str, no_preference: bool, index: int, careless: bool,
                   seed: int) -> str:
    """One listener from registration to the end page; returns their listener id.

    Each answer is drawn from a generator seeded by the panel's seed, the listener's index, the conditions of
    the trial and how often the listener met them before, so the answers do not depend on the order the server
    drew for the listener, nor on how it interleaves listeners: a panel with a given seed gives the same
    answers to the same conditions every time."""
    seen: dict[str, int] = {}
    link = {"PROLIFIC_PID": f"pid{index:03d}{secrets.token_hex(4)}", "STUDY_ID": "panel", "SESSION_ID": f"s{index}"}
    screen = await client.start(f"panelist-{index}", link=link)
    listener = screen["listener"]
    if screen["screen"] == "level":
        targets = hidden_targets(db, listener)
        screen = await client.checks(screen, lambda key, audio: targets[key])
    while screen["screen"] == "trial":
        await client.fetch(screen)
        conditions = conditions_of(db, [s["key"] for s in screen["stimuli"]])
        conditions = {s["key"]: conditions[s["key"]] for s in screen["stimuli"]}  # in label order
        cell = "|".join(sorted(conditions.values()))
        seen[cell] = seen.get(cell, 0) + 1
        rng = np.random.default_rng([seed, index, zlib.crc32(cell.encode()), seen[cell]])
        if kind in ("acr", "dcr"):
            answers = {key: 3 if careless else acr_answer(c, rng) for key, c in conditions.items()}
        elif kind == "ccr":
            keys = list(conditions)
            answers = {keys[0]: 0, keys[1]: 2 * OFFSET} if careless else ccr_answer(conditions, rng)
        else:
            answers = {key: 50 for key in conditions} if careless else ab_answer(conditions, rng, no_preference)
        stretch = 1.0 if careless else rng.uniform(2, 4)
        screen = await client.submit(screen, answers, playback_events(screen, screen["min_play_ms"] * stretch))
    if screen["screen"] == "done" and not screen.get("answered"):
        await client.answer(screen, {"comment": "rushed" if careless else ""})
    return listener


def panel(test_dir: str | Path, folder: str | Path, listeners: int = 8, seed: int = 0,
          careless: int = 1) -> ChoicePanelResult:
    """Serve an ACR, DCR, CCR or A/B test on a fresh database in `folder`, run the panel, export the ratings to `folder`
    and analyse them into `folder/analysis`."""
    test = load_test(test_dir)
    kind = type_name(test.spec)
    if kind == "mushra":
        raise ValueError(f"{test_dir} is a MUSHRA test: use codecbench.benchmarks.mushra_panel")
    no_preference = bool((test.spec.get("ab") or {}).get("no_preference", True))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "results.sqlite"
    server = start_server(test_dir, db, folder / "server.log", secrets.token_urlsafe(16), timeout_s=600)

    async def run() -> list[str]:
        async with httpx.AsyncClient(base_url=server.url, timeout=300) as http:
            client = ListenerClient(http)
            return list(await asyncio.gather(*[panelist(client, db, kind, no_preference, i,
                                                        i >= listeners - careless, seed) for i in range(listeners)]))
    try:
        ids = asyncio.run(run())
    finally:
        server.stop()
    ratings = ResultsDB(db, test).ratings()
    write_csv(ratings, folder / "ratings.csv", private=True)
    tables = analyze_type(kind, ratings, folder / "analysis", gold=test.spec.get("reference", REFERENCE))
    split = listeners - careless
    return ChoicePanelResult(kind, ids[split:], ids[:split], ratings, tables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dir", metavar="TESTDIR",
                        help="an ACR, DCR, CCR or A/B test folder (`mushra build --type`)")
    parser.add_argument("--out", required=True, help="folder for the database, exports and analysis")
    parser.add_argument("--listeners", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--careless", type=int, default=1, help="how many of the listeners are careless")
    args = parser.parse_args(argv)
    print(panel(args.test_dir, args.out, args.listeners, args.seed, args.careless).summary())


if __name__ == "__main__":
    main()
