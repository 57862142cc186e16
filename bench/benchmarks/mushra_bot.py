"""The byte-matching bot of the MUSHRA security review, run against a real `codecbench mushra serve`.

A bot registers, fetches every stimulus of each trial and rates 100 whatever matches the open reference's
bytes, 0 everything else. If the hidden reference were served byte-identical to the open reference, the
bot would find it in every trial, rate it 100 and pass BS.1534-3 post-screening while dragging every codec
to 0. Honest listeners beside it are simulated from the database (the condition behind each key, as the
test's admin sees it): the hidden reference near 100, the 7 kHz anchor near 60, the 3.5 kHz anchor near
20, codecs near 70. Prints what each bot found, who post-screening excluded, and each condition's mean.

    python -m codecbench.benchmarks.mushra_bot results/mushra-demo --bots 3 --honest 2

`similarity_bot` is the patient bot of the second review: it never listens, but waits out the server's
wall-clock rule, rates 100 the stimulus closest in samples to the open reference (the hidden reference,
whatever the dither), the others lower the further they are, and answers the headphone screen from the
audio (the interval whose channels differ).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import secrets
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import soundfile as sf

from codecbench.listening_test.analysis import screen_listeners
from codecbench.listening_test.client import ListenerClient
from codecbench.listening_test.harness import start_server
from codecbench.listening_test.headphones import GAP_S, INTERVAL_S, INTERVALS
from codecbench.listening_test.results import ResultsDB
from codecbench.listening_test.anchors import LOW_CUTOFF_HZ, anchor_name
from codecbench.listening_test.testdef import REFERENCE, load_test
from codecbench.listening_test.traps import expected_rating, is_trap

LOW_ANCHOR = anchor_name(LOW_CUTOFF_HZ)
HONEST_MEANS = {REFERENCE: 98, LOW_ANCHOR: 20}
HONEST_MID_ANCHOR_MEAN = 60  # any other low-pass anchor: the mid anchor, whichever cutoff the test chose
HONEST_CODEC_MEAN = 70


@dataclass(frozen=True)
class BotRun:
    """What one bot did.

    Args:
        listener: its listener id.
        trials: trials it submitted.
        matched: trials in which a rated stimulus had exactly the open reference's bytes.
    """

    listener: str
    trials: int
    matched: int


@dataclass(frozen=True)
class Experiment:
    """Bots and honest listeners on one server, and what post-screening made of them."""

    bots: list[BotRun]
    honest: list[str]
    excluded: pd.DataFrame  # listener, reason
    means: pd.DataFrame  # condition, mean of all listeners, mean of the kept ones


async def byte_matching_bot(client: ListenerClient, name: str) -> BotRun:
    """Register and rate every trial by byte equality with the open reference."""
    screen = await client.start(name)
    if screen["screen"] == "level":
        screen = await client.skip_level(screen)
    trials = matched = 0
    while screen["screen"] == "trial":
        audio = await client.fetch(screen)
        reference = audio[screen["reference"]]
        ratings = {s["key"]: 100 if audio[s["key"]] == reference else 0 for s in screen["stimuli"]}
        trials, matched = trials + 1, matched + (100 in ratings.values())
        screen = await client.submit(screen, ratings)
    return BotRun(screen["listener"], trials, matched)


def samples(audio: bytes) -> tuple[np.ndarray, int]:
    data, rate = sf.read(io.BytesIO(audio), dtype="float64", always_2d=True)
    return data, rate


def huggins_answer(audio: bytes) -> int:
    """The Huggins-pitch interval (1-3) told from the audio alone: the one whose two channels differ most."""
    data, rate = samples(audio)
    step, length = int(round((INTERVAL_S + GAP_S) * rate)), int(round(INTERVAL_S * rate))
    energy = [float(np.mean((data[i * step:i * step + length, 0] - data[i * step:i * step + length, -1]) ** 2))
              for i in range(INTERVALS)]
    return int(np.argmax(energy)) + 1


def similarity_ratings(audio: dict[str, bytes], reference: str, keys: list[str]) -> dict[str, int]:
    """100 for the stimulus closest to the open reference (RMS sample difference), the others 85 times the
    second-closest distance over their own: no listening, only the waveforms."""
    ref = samples(audio[reference])[0]
    distance = {}
    for key in keys:
        data = samples(audio[key])[0]
        n = min(len(data), len(ref))
        distance[key] = float(np.sqrt(np.mean((data[:n] - ref[:n]) ** 2)))
    order = sorted(keys, key=distance.get)
    second = distance[order[1]] if len(order) > 1 else 1.0
    return {key: 100 if key == order[0] else int(round(85 * second / max(distance[key], 1e-12))) for key in keys}


async def similarity_bot(client: ListenerClient, name: str, link: dict[str, str] | None = None) -> str:
    """Register (with a platform `link`), pass the checks from the audio, rate every trial by similarity to
    the open reference; `client.submit` waits out the server's wall-clock rule. Returns the listener id."""
    screen = await client.start(name, headphones="studio headphones", link=link)
    if screen["screen"] == "level":
        screen = await client.checks(screen, lambda key, audio: huggins_answer(audio))
    while screen["screen"] == "trial":
        audio = await client.fetch(screen)
        screen = await client.submit(screen, similarity_ratings(audio, screen["reference"],
                                                                [s["key"] for s in screen["stimuli"]]))
    if screen["screen"] == "done" and not screen.get("answered"):
        await client.answer(screen, {"comment": ""})
    return screen["listener"]


def conditions_of(db: Path, keys: list[str]) -> dict[str, str]:
    """The condition behind each stimulus key (what only the test's admin can see)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(f"SELECT key, condition FROM stimuli WHERE key IN ({','.join('?' * len(keys))})", keys)
        return dict(rows.fetchall())


async def honest_listener(client: ListenerClient, name: str, db: Path, rng: np.random.Generator) -> str:
    """Register and rate every stimulus by its condition, with some spread (the hidden reference >= 92)."""
    screen = await client.start(name)
    if screen["screen"] == "level":
        screen = await client.skip_level(screen)
    while screen["screen"] == "trial":
        await client.fetch(screen)
        screen = await client.submit(screen, honest_ratings(conditions_of(db, [s["key"] for s in screen["stimuli"]]),
                                                            rng))
    return screen["listener"]


def by_bitrate(condition: str) -> float:
    """A codec's typical rating in a simulated panel that hears more bits as better: 30 + 4 per kbps
    (opus@12: 78, opus@6: 54, codec2@2.4: 39.6), at most 85; `HONEST_CODEC_MEAN` without a bitrate."""
    try:
        return min(85.0, 30.0 + 4.0 * float(condition.split("@", 1)[1].split(":", 1)[0]))
    except (IndexError, ValueError):
        return HONEST_CODEC_MEAN


def honest_ratings(conditions: dict[str, str], rng: np.random.Generator,
                   codec_mean=lambda condition: HONEST_CODEC_MEAN) -> dict[str, int]:
    """An attentive listener's ratings {key: rating} of stimuli {key: condition}: near each condition's typical
    rating (sd 6; a codec's is `codec_mean(condition)`), the hidden reference at least 92."""
    def typical(condition: str) -> float:
        mid = HONEST_MID_ANCHOR_MEAN if condition.startswith("lowpass@") else codec_mean(condition)
        return HONEST_MEANS.get(condition, mid)

    return {key: expected_rating(condition) if is_trap(condition)  # does what the trap's voice asks
            else int(np.clip(typical(condition) + rng.normal(0, 6), 92 if condition == REFERENCE else 0, 100))
            for key, condition in conditions.items()}


async def run_listeners(url: str, db: Path, bots: int, honest: int, seed: int) -> tuple[list[BotRun], list[str]]:
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        client = ListenerClient(http)
        found = await asyncio.gather(*(byte_matching_bot(client, f"bot-{i}") for i in range(bots)))
        people = await asyncio.gather(*(honest_listener(client, f"honest-{i}", db, rng) for i in range(honest)))
    return list(found), list(people)


def experiment(url: str, test_dir: str | Path, db: str | Path, bots: int = 3, honest: int = 2,
               seed: int = 0) -> Experiment:
    """Run `bots` byte-matching bots and `honest` simulated listeners against the server at `url` (whose
    database is `db`), then screen everyone's test ratings (BS.1534-3)."""
    db = Path(db)
    found, people = asyncio.run(run_listeners(url, db, bots, honest, seed))
    ratings = ResultsDB(db, load_test(test_dir)).ratings()
    screening = screen_listeners(ratings)
    test = ratings[ratings["phase"] == "test"]
    means = pd.DataFrame({"all": test.groupby("condition")["rating"].mean(),
                          "kept": test[test["listener"].isin(screening.kept)].groupby("condition")["rating"].mean()})
    return Experiment(found, people, screening.excluded, means.reset_index())


def report(result: Experiment) -> str:
    lines = [f"bot {b.listener}: {b.trials} trials, a stimulus byte-identical to the open reference in {b.matched}"
             for b in result.bots]
    lines.append(f"honest listeners: {', '.join(result.honest)}")
    lines.append(f"excluded by post-screening: {len(result.excluded)}"
                 + "".join(f"\n  {r.listener}: {r.reason}" for r in result.excluded.itertuples()))
    lines.append(result.means.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `codecbench mushra build`")
    parser.add_argument("--bots", type=int, default=3)
    parser.add_argument("--honest", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db, log = Path(folder) / "results.sqlite", Path(folder) / "server.log"
        server = start_server(args.test_dir, db, log, secrets.token_urlsafe(16), ("--no-level-check",))
        try:
            result = experiment(server.url, args.test_dir, db, args.bots, args.honest, args.seed)
        finally:
            server.stop()
    print(report(result))


if __name__ == "__main__":
    main()
