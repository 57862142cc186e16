"""The local engine: codecs in this process (they may hold a GPU), scoring inline (`workers=1`) or in metric
worker processes started by a fork server, which die with this process whatever ends it."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from itertools import groupby

from tqdm import tqdm

from codecbench import pipeline
from codecbench.audio import AudioError, LoadedAudio, load_audio
from codecbench.codecs import Codec, CodecSpec, CodecUnavailable, load_codec
from codecbench.engines.base import CodecInfo, Engine, Task, Work, failed_row, scored_row
from codecbench.processes import die_with_parent
from codecbench.rows import Row


def _start_worker(main_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C and stops the pool
    die_with_parent(watch_pid=main_pid)


def metric_pool(workers: int) -> ProcessPoolExecutor:
    """Metric worker processes started by a fork server, not forked from this process: a child forked after
    torch (a neural codec here, or a metric) ran an OpenMP parallel region hangs in its next one. The fork
    server imports the pipeline once (no torch op runs there), so workers start without importing it again.
    Each worker exits as soon as this process is gone."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["codecbench.pipeline"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),))


class _InlineExecutor:
    """The executor used with one worker: no process, no pickling."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller like a pool would
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        return None


class LocalEngine(Engine):
    """Codecs in this process, metrics in `workers` processes (1: inline).

    Args:
        workers: metric processes. They come from a fork server, so a script running this with workers > 1
            must guard its top level with `if __name__ == "__main__":`.
        device: where codecs run (`cpu`, `cuda`).
    """

    name = "local"

    def __init__(self, workers: int = 1, device: str = "cpu") -> None:
        self.workers, self.device = workers, device
        self.codecs: dict[str, Codec] = {}
        self.infos: dict[str, CodecInfo] = {}

    def load(self, specs: list[CodecSpec]) -> tuple[dict[str, CodecInfo], dict[str, str]]:
        skipped = {}
        for spec in specs:
            try:
                self.codecs[str(spec)] = load_codec(spec).to(self.device)
            except CodecUnavailable as exc:
                skipped[str(spec)] = str(exc).removeprefix(f"{spec}: unavailable: ")
                continue
            self.infos[str(spec)] = CodecInfo.of(self.codecs[str(spec)])
        return dict(self.infos), skipped

    def run(self, work: Work, store: Callable[[Row], None], progress: bool) -> None:
        executor = _InlineExecutor() if self.workers <= 1 else metric_pool(self.workers)
        pending: dict[Future, tuple[Task, LoadedAudio, pipeline.Coded]] = {}
        bar = tqdm(total=len(work.tasks), desc="coding + scoring", unit="row", disable=not progress)
        infos = self.infos

        def finish(future: Future) -> None:
            task, audio, coded = pending.pop(future)
            try:
                row = scored_row(task, infos[task.spec], audio, coded, future.result(), work.metric_columns)
            except Exception as exc:
                row = failed_row(task, infos[task.spec], work.metric_columns,
                                 f"scoring failed: {type(exc).__name__}: {exc}", audio, coded)
            store(row)
            bar.update(1)

        def drain(limit: int) -> None:
            while len(pending) > limit:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in finished:
                    finish(future)

        completed = False
        try:
            for utterance, group in groupby(work.tasks, key=lambda task: task.utterance):
                try:
                    audio: LoadedAudio | None = load_audio(utterance.path, pipeline.WORKING_RATE)
                    load_error = ""
                except AudioError as exc:
                    audio, load_error = None, str(exc)
                for task in group:
                    if audio is None:
                        store(failed_row(task, infos[task.spec], work.metric_columns, load_error))
                        bar.update(1)
                        continue
                    seed = pipeline.utterance_seed(work.run_seed, utterance.id, task.spec)
                    try:
                        coded = pipeline.code(self.codecs[task.spec], audio, seed)
                    except pipeline.CodingError as exc:
                        store(failed_row(task, infos[task.spec], work.metric_columns, str(exc), audio))
                        bar.update(1)
                        continue
                    future = executor.submit(pipeline.score, coded, work.metrics, work.max_delay_s,
                                             utterance.transcript)
                    pending[future] = (task, audio, coded)
                    drain(2 * max(self.workers, 1))
            drain(0)
            completed = True
        finally:
            executor.shutdown(wait=completed, cancel_futures=not completed)
            bar.close()
