"""Failed admin logins, counted per client address and in total, with lockout.

An address that fails `max_failures` times within `window_s` may not try again for `lockout_s`, even with
the right password; when all addresses together fail `max_total_failures` times within `window_s`,
every address is locked out for `lockout_s` (guessing from many addresses). A successful login clears
its address' count. The address is uvicorn's client address: behind a reverse proxy on the same machine
that sets `X-Forwarded-For`, the listener's (uvicorn trusts that header from 127.0.0.1 only); behind
any other proxy, the proxy's, and then the per-address limit acts as the total one.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("codecbench.mushra")


class LoginThrottle:
    """Counts failed logins and says how long an address must wait.

    Args:
        max_failures: failures of one address within `window_s` that lock it out.
        max_total_failures: failures of all addresses within `window_s` that lock everyone out.
        window_s: how far back failures count.
        lockout_s: how long a lockout lasts.
        clock: seconds, monotonic.
    """

    def __init__(self, max_failures: int = 5, max_total_failures: int = 30, window_s: float = 900.0,
                 lockout_s: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.max_total_failures = max_failures, max_total_failures
        self.window_s, self.lockout_s, self.clock = window_s, lockout_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._all_failures: deque[float] = deque()
        self._locked_until: dict[str, float] = {}
        self._everyone_locked_until = 0.0

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may try to log in (0: now)."""
        until = max(self._locked_until.get(address, 0.0), self._everyone_locked_until)
        return max(0.0, until - self.clock())

    def record(self, address: str, succeeded: bool) -> None:
        """Count one login attempt of `address`."""
        now = self.clock()
        if succeeded:
            self._failures.pop(address, None)
            return
        mine = self._failures.setdefault(address, deque())
        for times in (mine, self._all_failures):
            times.append(now)
            while times and times[0] <= now - self.window_s:
                times.popleft()
        if len(mine) >= self.max_failures:
            self._locked_until[address] = now + self.lockout_s
            mine.clear()
            log.warning("admin login: %s locked out for %.0f s after %d failed attempts", address, self.lockout_s,
                        self.max_failures)
        if len(self._all_failures) >= self.max_total_failures:
            self._everyone_locked_until = now + self.lockout_s
            self._all_failures.clear()
            log.warning("admin login: every address locked out for %.0f s after %d failed attempts in %.0f s",
                        self.lockout_s, self.max_total_failures, self.window_s)
        for stale in [a for a, times in self._failures.items() if not times or times[-1] <= now - self.window_s]:
            del self._failures[stale]
        for stale in [a for a, until in self._locked_until.items() if until <= now]:
            del self._locked_until[stale]
