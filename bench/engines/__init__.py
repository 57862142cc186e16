"""Engines schedule `pipeline.code` and `pipeline.score` over a run's work and hand each finished `Row` to
the run folder; they compute nothing themselves. `local`: this machine's processes (`LocalEngine`); `ray`: a
Ray cluster, started on this machine or joined (`RayEngine`, needs the `[ray]` extra)."""

from codecbench.engines.base import Engine, Work
from codecbench.engines.local import LocalEngine
from codecbench.resources import DEFAULT_THREADS
from codecbench.task import CodecInfo, Plan, Task

ENGINES = ("local", "ray")


def make_engine(name: str, workers: int = 1, device: str = "cpu", address: str | None = None,
                actors: int | None = None, threads: int | None = None) -> Engine:
    """The engine called `name` (see `codecbench run --engine`).

    Args:
        workers: local: worker processes (1: everything in this process); ray without `address`: the CPUs of
            the Ray instance started here.
        device: where torch codecs run (`cpu`, `cuda`).
        address: ray: a running cluster to join (`auto`, `ray://HOST:10001`); None starts one here.
        actors: ray: codec actors (default: one per CPU, or per GPU with `device` cuda).
        threads: torch's threads wherever a torch codec codes: this process (local), each actor (ray); None:
            `DEFAULT_THREADS`, the same on both engines.

    Raises:
        ValueError: an unknown engine, or Ray options with the local engine.
    """
    threads = DEFAULT_THREADS if threads is None else threads
    if name == "local":
        if address is not None or actors is not None:
            raise ValueError("--ray-address and --actors need --engine ray")
        return LocalEngine(workers, device, threads)
    if name == "ray":
        from codecbench.engines.ray import RayEngine

        return RayEngine(workers, device, address, actors, threads)
    raise ValueError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")


__all__ = ["CodecInfo", "DEFAULT_THREADS", "ENGINES", "Engine", "LocalEngine", "Plan", "Task", "Work", "make_engine"]
