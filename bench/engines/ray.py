"""The Ray engine: the same tasks as the local engine, on a Ray cluster started here or joined.

    driver: work items (utterance x spec) --> codec actor pool: read the input where it lives, `pipeline.code`
            --(object store)--> metric task: `pipeline.score` --> Row --> driver: RunDir journal, progress bar

Built on Ray Core (actors and tasks) rather than Ray Data: a run is a few thousand heavy items (seconds each),
every row must reach the run folder's journal as soon as it is complete (Ray Data's streaming executor hands
out blocks, not rows, and buffers them), a coded signal goes from its actor to its metric task through the
object store without passing the driver, and Ray's per-call retries (`max_task_retries` of a restarted actor,
`max_retries` of a task) give fault tolerance while the driver, the only writer, stores each task's row once.

Each actor loads every codec of the run once (`worker_codec`); with `--device cuda` it holds a share of a GPU.
Ray is imported when the engine starts, so `--engine local` needs no Ray. Ray's own logs stay off (errors aside):
the driver shows one progress bar.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from codecbench.audio import LoadedAudio
from codecbench.codecs import CodecSpec
from codecbench.engines.base import Engine, Work, load_codecs, worker_codec
from codecbench.pipeline import Coded
from codecbench.resources import DEFAULT_THREADS, checked_threads, torch_threads
from codecbench.rows import Row
from codecbench.task import CodecInfo, Plan, Task, code_task, failed_row, read_task_audio, score_task

RETRIES = 3  # a killed actor restarts and a killed task reruns this many times before its row says so
IN_FLIGHT_PER_ACTOR = 2  # tasks submitted ahead per actor: enough to keep actors and metric tasks busy
PROBE_S = 5.0  # how long a cluster's address may take to accept a connection
QUIET = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}


class EngineUnavailable(RuntimeError):
    """The engine cannot run: its library is missing or its cluster cannot be reached; the message says what to do."""


def import_ray() -> Any:
    """The `ray` module.

    Raises:
        EngineUnavailable: Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise EngineUnavailable('--engine ray needs Ray: pip install ".[ray]"') from exc
    return ray


def auto_address() -> tuple[str, str]:
    """The cluster `--ray-address auto` joins and where its address came from, found as `ray.init(address="auto")`
    finds it: `$RAY_ADDRESS` (set by `ray job submit` and by cluster setups), else the address the last `ray start`
    on this machine recorded in `ray_current_cluster` in Ray's temp dir (`$RAY_TMPDIR/ray`, else `$TMPDIR/ray`,
    else /tmp/ray). Ray's last resort, any Ray process found on this machine, is left out: on a shared machine
    that may be another user's private instance, and which of several it picks is arbitrary.

    Raises:
        EngineUnavailable: neither names a cluster.
    """
    from ray._private.utils import get_ray_address_file, read_ray_address

    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    record = get_ray_address_file(None)
    address = read_ray_address()
    if not address:
        raise EngineUnavailable(f"--ray-address auto found no Ray cluster: RAY_ADDRESS is unset and no `ray start` "
                                f"recorded one in {record} (a head started with --temp-dir DIR records it in DIR); "
                                "start one with `ray start --head`, or pass its address")
    return address, record


def check_listening(address: str, named: str) -> None:
    """Fail at once where nothing listens at `address` (`HOST:PORT` or `ray://HOST:PORT`; `named`: how the user
    gave it, for the message): Ray would retry a dead address for minutes.

    Raises:
        EngineUnavailable: the address refuses connections or does not answer within `PROBE_S`.
    """
    host, _, port = address.split("://")[-1].rpartition(":")
    if not port.isdigit():
        return  # not HOST:PORT: Ray's own error says what is wrong with it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()
    except OSError as exc:
        raise EngineUnavailable(f"--ray-address {named}: no Ray cluster answers at {address} "
                                f"({exc.strerror or exc}); is it running (`ray status --address {address}`)?") from exc


@dataclass(frozen=True)
class CodedOnNode:
    """What a codec actor hands its task's metric task: the failed row, or the input and its decodes."""

    node: str
    row: Row | None = None
    audio: LoadedAudio | None = None
    coded: Coded | None = None


@dataclass(frozen=True)
class RowOnNodes:
    """A metric task's row and where its task was coded and scored."""

    row: Row
    coded_on: str
    scored_on: str


def _node() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


class CodecActor:
    """A codec worker: loads the run's codecs once, reads inputs where they live and codes them.

    Args:
        device: where torch codecs run.
        threads: torch's threads while it codes.
    """

    def __init__(self, device: str, threads: int) -> None:
        self.device, self.threads = device, threads

    def load(self, specs: list[str]) -> tuple[dict[str, CodecInfo], dict[str, str]]:
        """Load every spec's codec here; their descriptions and, for the unavailable ones, why."""
        codecs, skipped = load_codecs(specs, lambda spec: worker_codec(spec, self.device))
        return {spec: CodecInfo.of(codec) for spec, codec in codecs.items()}, skipped

    def code(self, task: Task, info: CodecInfo, plan: Plan) -> CodedOnNode:
        """Read the task's input and code it."""
        audio = read_task_audio(task, plan, info)
        if isinstance(audio, Row):
            return CodedOnNode(_node(), row=audio)
        with torch_threads(self.threads):
            coded = code_task(worker_codec(task.spec, self.device), info, task, audio, plan)
        if isinstance(coded, Row):
            return CodedOnNode(_node(), row=coded)
        return CodedOnNode(_node(), audio=audio, coded=coded)


def score(coded: CodedOnNode, task: Task, info: CodecInfo, plan: Plan) -> RowOnNodes:
    """A metric task: the row of a coded task."""
    if coded.row is not None:
        return RowOnNodes(coded.row, coded.node, coded.node)
    return RowOnNodes(score_task(task, info, coded.audio, coded.coded, plan), coded.node, _node())


class RayEngine(Engine):
    """Codec actors and metric tasks on a Ray cluster.

    Args:
        workers: without `address`: the CPUs of the Ray instance started on this machine.
        device: where torch codecs run in the actors (`cpu`, `cuda`: each actor holds a share of a GPU).
        address: a running cluster to join (`auto`, `ray://HOST:10001`); None starts Ray here.
        actors: codec actors (default: one per CPU of the cluster, or per GPU with `device` cuda).
        threads: torch's threads in each actor while it codes (`DEFAULT_THREADS`: the local engine's too, so
            torch codecs give the same bits on both engines).
    """

    name = "ray"

    def __init__(self, workers: int = 1, device: str = "cpu", address: str | None = None,
                 actors: int | None = None, threads: int = DEFAULT_THREADS) -> None:
        if actors is not None and actors < 1:
            raise ValueError(f"--actors must be at least 1, not {actors}")
        import_ray()  # fail before anything runs where Ray is missing
        self.workers, self.device, self.address, self.actors = max(workers, 1), device, address, actors
        self.threads = checked_threads(threads)
        self.ray: Any = None
        self.started_here = False
        self.pool: list[Any] = []
        self.infos: dict[str, CodecInfo] = {}
        self.nodes: dict[str, Counter] = {"coded": Counter(), "scored": Counter()}

    def start(self) -> None:
        """Join the cluster at `address`, or start Ray here with `workers` CPUs (an initialised Ray is used as is).

        Raises:
            EngineUnavailable: Ray is missing, or no cluster answers at `address`.
        """
        if self.ray is not None:
            return
        ray = import_ray()
        if not ray.is_initialized():
            self._init(ray)
            self.started_here = True
        self.ray = ray

    def _init(self, ray: Any) -> None:
        """`ray.init` with Ray's logs off; SIGTERM keeps this process's handler (Ray's would end the driver
        before the finished rows are tabled)."""
        address, source = None, None
        if self.address is not None:
            address, source = auto_address() if self.address == "auto" else (self.address, None)
            check_listening(address, f"auto (address from {source})" if source else address)
        sigterm = signal.getsignal(signal.SIGTERM)
        try:
            if address is None:  # "local": a new instance even where RAY_ADDRESS or a `ray start` names a cluster
                ray.init(address="local", num_cpus=self.workers, **QUIET)
            else:
                ray.init(address=address, **QUIET)
        except BaseException as exc:  # no cluster there, or Ctrl-C while Ray starts: stop what it started
            ray.shutdown()
            if isinstance(exc, ConnectionError):
                raise EngineUnavailable(f"--ray-address {self.address}: cannot join the Ray cluster at {address}: "
                                        f"{exc}") from exc
            raise
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, sigterm)
        if address is not None:
            resources = ray.cluster_resources()
            print(f"joined the Ray cluster at {address}{f' (from {source})' if source else ''}: "
                  f"{sum(node['Alive'] for node in ray.nodes())} nodes, {resources.get('CPU', 0):g} CPUs, "
                  f"{resources.get('GPU', 0):g} GPUs", file=sys.stderr)

    def close(self) -> None:
        if self.ray is None:
            return
        for actor in self.pool:
            self.ray.kill(actor)
        self.pool = []
        if self.started_here:
            self.ray.shutdown()
        self.ray, self.started_here = None, False

    def _actor_options(self) -> list[dict[str, Any]]:
        """The options of each actor of the pool: a share of a GPU with `device` cuda, and a node. Actors go
        round the nodes in proportion to their CPUs (GPUs), so every node codes (Ray's own SPREAD is best
        effort and may stack actors that hold no CPU); the placement is soft, so a restarted actor may move."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        resource = "GPU" if self.device.startswith("cuda") else "CPU"
        nodes = [(node["NodeID"], int(node["Resources"].get(resource, 0))) for node in self.ray.nodes()
                 if node["Alive"] and node["Resources"].get(resource, 0) > 0]
        if not nodes:
            raise ValueError(f"--device {self.device}: the Ray cluster has no {resource}")
        slots = [node for k in range(max(count for _, count in nodes)) for node, count in nodes if count > k]
        size = self.actors or len(slots)
        options: dict[str, Any] = {"max_restarts": RETRIES, "max_task_retries": RETRIES}
        if resource == "GPU":
            options["num_gpus"] = min(1.0, len(slots) / size)
        return [{**options, "scheduling_strategy": NodeAffinitySchedulingStrategy(slots[i % len(slots)], soft=True)}
                for i in range(size)]

    def load(self, specs: list[CodecSpec]) -> tuple[dict[str, CodecInfo], dict[str, str]]:
        self.start()
        ray = self.ray
        actor_class = ray.remote(CodecActor)
        self.pool = [actor_class.options(**options).remote(self.device, self.threads)
                     for options in self._actor_options()]
        try:
            loaded = ray.get([actor.load.remote([str(spec) for spec in specs]) for actor in self.pool])
        except ray.exceptions.RayTaskError as exc:  # a bad spec option: the actor's ValueError, as raised here
            raise exc.cause from None
        self.infos, skipped = loaded[0]
        return dict(self.infos), skipped

    def run(self, work: Work, store: Callable[[Row], None], progress: bool) -> None:
        ray, plan, infos = self.ray, work.plan, self.infos
        shared_plan = ray.put(plan)  # stored once, not serialised into every call (its talkers list the split)
        remote_score = ray.remote(num_cpus=1, max_retries=RETRIES)(score)
        waiting = list(reversed(work.tasks))
        in_flight: dict[Any, tuple[Task, int]] = {}
        load = [0] * len(self.pool)
        bar = tqdm(total=len(work.tasks), desc=f"coding + scoring (ray, {len(self.pool)} actors)", unit="row",
                   disable=not progress)
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < IN_FLIGHT_PER_ACTOR * len(self.pool):
                    task, actor = waiting.pop(), min(range(len(self.pool)), key=load.__getitem__)
                    coded = self.pool[actor].code.remote(task, infos[task.spec], shared_plan)
                    in_flight[remote_score.remote(coded, task, infos[task.spec], shared_plan)] = (task, actor)
                    load[actor] += 1
                done, _ = ray.wait(list(in_flight), num_returns=1)
                task, actor = in_flight.pop(done[0])
                load[actor] -= 1
                store(self._row(done[0], task, plan))
                bar.update(1)
        finally:  # on Ctrl-C nothing is cancelled here: `close` ends the job, and Ray stops its tasks and actors
            bar.close()  # (`ray.cancel` racing a task's reply aborts the driver: ray-project/ray#54846)
        if len(self.nodes["coded"] | self.nodes["scored"]) > 1:
            print(f"rows per node: {self.describe_nodes()}", file=sys.stderr)

    def _row(self, ref: Any, task: Task, plan: Plan) -> Row:
        """The row a metric task returned, or (its retries spent) the failed row saying which worker died."""
        try:
            done: RowOnNodes = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            reason = " ".join(str(exc).split())[:300]
            return failed_row(task, self.infos[task.spec], plan.metric_columns,
                              f"worker failed: {type(exc).__name__}: {reason}")
        self.nodes["coded"][done.coded_on] += 1
        self.nodes["scored"][done.scored_on] += 1
        return done.row

    def describe_nodes(self) -> str:
        """Rows coded and scored on each node of the last run (node ids shortened)."""
        nodes = sorted(self.nodes["coded"] | self.nodes["scored"])
        return "; ".join(f"{node[:12]}: coded {self.nodes['coded'][node]}, scored {self.nodes['scored'][node]}"
                         for node in nodes)
