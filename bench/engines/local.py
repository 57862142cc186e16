"""The local engine: everything in this process (`workers=1`), or worker processes started by a fork server
(which die with this process whatever ends it) that code with CPU codecs and score; torch codecs (they may
hold a GPU) code in this process."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from itertools import groupby
from typing import Any

from tqdm import tqdm

from codecbench.audio import LoadedAudio
from codecbench.codecs import Codec, CodecSpec, load_codec
from codecbench.engines.base import Engine, Work, load_codecs, uses_torch, worker_codec
from codecbench.processes import WorkerPool, die_with_parent
from codecbench.resources import DEFAULT_THREADS, checked_threads, torch_threads
from codecbench.rows import Row
from codecbench.task import (CodecInfo, Coded, Plan, Task, code_task, failed_row, read_input, score_task, scoring_failed,
                             task_row)


def _start_worker(main_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C and stops the pool
    die_with_parent(watch_pid=main_pid)


def metric_pool(workers: int) -> WorkerPool:
    """Worker processes (metrics, and the local engine's CPU codecs) started by a fork server, not forked from
    this process: a child forked after torch (a neural codec here, or a metric) ran an OpenMP parallel region
    hangs in its next one. The fork server imports the engine and the pipeline once (no torch op runs there),
    so workers start without importing them again, and never the caller's main module (no guard needed).
    Each worker exits as soon as this process is gone."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["codecbench.pipeline", "codecbench.engines.local"])
    return WorkerPool(workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),))


def drain_until(pending: dict[Future, Any], limit: int, finish: Callable[[Future], None]) -> None:
    """Wait for finished futures, handing each to `finish` (which pops it from `pending`), until at most `limit`
    are pending (a bounded queue of work in the pool)."""
    while len(pending) > limit:
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in finished:
            finish(future)


class InlineExecutor:
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
    """The codecs of this machine's processes. With one worker everything runs in this process. With more,
    `workers` processes code and score: a CPU codec (no torch modules: Opus, Codec 2, Lyra, ...) codes in the
    worker that scores it, each worker loading it once, so coding runs in parallel too; a torch codec codes
    in this process (one model in memory, on `device`, with `threads` torch threads) and the workers score it.

    Args:
        workers: worker processes (1: none), started by a fork server without re-running the caller's main
            module, so a script or notebook needs no `if __name__ == "__main__":` guard.
        device: where torch codecs run (`cpu`, `cuda`).
        threads: torch's threads in this process while the run codes (`DEFAULT_THREADS`: the Ray engine's too).
    """

    name = "local"

    def __init__(self, workers: int = 1, device: str = "cpu", threads: int = DEFAULT_THREADS) -> None:
        self.workers, self.device, self.threads = workers, device, checked_threads(threads)
        self.codecs: dict[str, Codec] = {}
        self.infos: dict[str, CodecInfo] = {}

    def load(self, specs: list[CodecSpec]) -> tuple[dict[str, CodecInfo], dict[str, str]]:
        codecs, skipped = load_codecs([str(s) for s in specs], lambda spec: load_codec(spec).to(self.device))
        self.codecs.update(codecs)
        self.infos.update({spec: CodecInfo.of(codec) for spec, codec in codecs.items()})
        return dict(self.infos), skipped

    def in_workers(self, spec: str) -> bool:
        """Whether the codec of `spec` codes in the worker processes rather than in this one."""
        return self.workers > 1 and not uses_torch(self.codecs[spec])

    def run(self, work: Work, store: Callable[[Row], None], progress: bool) -> None:
        executor = InlineExecutor() if self.workers <= 1 else metric_pool(self.workers)
        pending: dict[Future, tuple[Task, LoadedAudio, Coded | None]] = {}
        bar = tqdm(total=len(work.tasks), desc="coding + scoring", unit="row", disable=not progress)
        plan, infos = work.plan, self.infos

        def finish(future: Future) -> None:
            task, audio, coded = pending.pop(future)
            try:
                row = future.result()
            except Exception as exc:  # a worker that died: the row says so, the run goes on
                row = scoring_failed(task, infos[task.spec], plan, exc, audio, coded)
            store(row)
            bar.update(1)

        def stored(row: Row) -> None:
            store(row)
            bar.update(1)

        completed = False
        try:
            with torch_threads(self.threads):
                for utterance, group in groupby(work.tasks, key=lambda task: task.utterance):
                    audio = read_input(utterance)
                    for task in group:
                        info = infos[task.spec]
                        if isinstance(audio, str):  # unreadable: the reason
                            stored(failed_row(task, info, plan.metric_columns, audio))
                        elif self.in_workers(task.spec):
                            pending[executor.submit(_code_and_score, info, task, audio, plan)] = (task, audio, None)
                        else:
                            coded = code_task(self.codecs[task.spec], info, task, audio, plan)
                            if isinstance(coded, Row):
                                stored(coded)
                                continue
                            pending[executor.submit(score_task, task, info, audio, coded, plan)] = (task, audio, coded)
                        drain_until(pending, 2 * max(self.workers, 1), finish)
                drain_until(pending, 0, finish)
            completed = True
        finally:
            executor.shutdown(wait=completed, cancel_futures=not completed)
            bar.close()


def _code_and_score(info: CodecInfo, task: Task, audio: LoadedAudio, plan: Plan) -> Row:
    """A worker's task: the codec of the task's spec (loaded on the worker's first task of it), then its row."""
    return task_row(worker_codec(task.spec), info, task, audio, plan)
