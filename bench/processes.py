"""Child processes that never outlive the run (they exit when their parent dies, whatever signal killed it) and
never re-run the user's script.

A metric worker blocked on its task queue holds both ends of the queue's pipes, so it never sees the parent
go; a forked decoder waits on its pool's pipe the same way. `die_with_parent` is called first thing in
such a child (a pool initializer): on Linux the kernel sends it SIGKILL when its parent exits
(`PR_SET_PDEATHSIG`), and with `watch_pid` a daemon thread exits the process as soon as that process is gone
(a pidfd, or polling elsewhere). A fork server's child needs `watch_pid` (the process that started the pool):
its parent is the fork server, which lives as long as any of its children does (each holds the server's
alive pipe), so the parent's death alone would never come.

A process started by multiprocessing's fork server (or spawned) re-runs the main script or `-m` module first,
so that functions defined there can be unpickled; a script without an `if __name__ == "__main__":` guard
then runs its whole body again in every child, which starts children of its own. codecbench's children run
codecbench functions only, so `main_module_hidden` (and `WorkerPool`, which uses it) starts them without that
re-run: a script, a `-m` module, a notebook, `python -c` or stdin needs no guard.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 0.5  # where pidfds are missing
_MAIN_LOCK = threading.RLock()


def _exit_now() -> None:
    os._exit(1)  # no cleanup: the run that needs this process is gone


def _set_parent_death_signal() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _watch(pid: int) -> None:
    """Block until process `pid` has exited, then end this process."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        _exit_now()
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                _exit_now()
            except PermissionError:
                pass
            time.sleep(POLL_S)
    select.select([descriptor], [], [])
    _exit_now()


def die_with_parent(watch_pid: int | None = None) -> None:
    """Make this (child) process exit when its parent dies, and when process `watch_pid` does; SIGTERM ends it
    at once (a forked child inherits the parent's handler, which turns SIGTERM into KeyboardInterrupt).

    Args:
        watch_pid: a further process whose death ends this one (the run's main process).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        _set_parent_death_signal()
        if os.getppid() != parent:  # the parent died before the signal was armed
            _exit_now()
    if watch_pid is not None:
        threading.Thread(target=_watch, args=(watch_pid,), name="codecbench-parent-watch", daemon=True).start()


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """Within this block, processes started through a fork server or spawn do not re-run the main module.

    multiprocessing tells a child to re-run `__main__` by its `__spec__` name (`python -m`) or its `__file__`
    (a script), read when the process starts; both are hidden meanwhile (under a lock, restored on exit), as
    they are for `python -c` or a notebook. Start the processes inside the block: a pool that starts its
    processes later (e.g. a `ProcessPoolExecutor` does in `submit`) must submit inside it. The children cannot
    unpickle objects defined in the main module, which codecbench never sends.
    """
    main = sys.modules["__main__"]
    with _MAIN_LOCK:
        spec, path = getattr(main, "__spec__", None), main.__dict__.pop("__file__", None)
        main.__spec__ = None
        try:
            yield
        finally:
            main.__spec__ = spec
            if path is not None:
                main.__file__ = path


class WorkerPool(ProcessPoolExecutor):
    """A `ProcessPoolExecutor` whose processes (started on `submit`, with a fork server or spawn context) do not
    re-run the main module, so the caller's script needs no `if __name__ == "__main__":` guard."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        with main_module_hidden():
            return super().submit(fn, *args, **kwargs)
