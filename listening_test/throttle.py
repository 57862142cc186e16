"""Per-address limits: failed admin logins (with lockout) and open registrations.

Every limit counts one client address at a time, so no address, and no crowd of addresses, can lock
anybody else out: an attacker spends only their own addresses' allowance. The address is the one
`gate.client_address` resolves (the connection's peer; the `X-Forwarded-For` entry a configured proxy
added, when the peer is such a proxy). Limits live in memory: a restarted server starts them afresh.
Guessing the admin password from many addresses is slowed only per address (`max_failures` per
`window_s` each), so the password must be long and random (`serve` prints a 16-character one by default).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("codecbench.mushra")
MAX_ADDRESSES = 100000  # addresses remembered at once; the oldest are forgotten first


class RateLimit:
    """At most `limit` events per address within any `window_s` seconds.

    Args:
        limit: events one address may have within `window_s`.
        window_s: how far back events count.
        clock: seconds, monotonic.
    """

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"a rate limit must allow at least 1 event, not {limit}")
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._events.get(address, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may have another event (0: now)."""
        now = self.clock()
        times = self._recent(address, now)
        return 0.0 if len(times) < self.limit else times[0] + self.window_s - now

    def forget(self, address: str) -> None:
        """Clear the count of `address`."""
        self._events.pop(address, None)

    def take(self, address: str) -> bool:
        """Count one event of `address` if it is within the limit; False (nothing counted) if not."""
        now = self.clock()
        times = self._recent(address, now)
        if len(times) >= self.limit:
            return False
        times.append(now)
        self._events.pop(address, None)
        self._events[address] = times  # most recently active last
        if len(self._events) > MAX_ADDRESSES:
            del self._events[next(iter(self._events))]
        return True


class LoginThrottle:
    """Counts failed logins per address and says how long an address must wait.

    An address that fails `max_failures` times within `window_s` may not try again for `lockout_s`,
    even with the right password; a successful login clears its count. Other addresses are not affected.

    Args:
        max_failures: failures of one address within `window_s` that lock it out.
        window_s: how far back failures count.
        lockout_s: how long a lockout lasts.
        clock: seconds, monotonic.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, lockout_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.lockout_s, self.clock = max_failures, window_s, lockout_s, clock
        self._failures = RateLimit(max_failures, window_s, clock)
        self._locked_until: dict[str, float] = {}

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may try to log in (0: now)."""
        return max(0.0, self._locked_until.get(address, 0.0) - self.clock())

    def record(self, address: str, succeeded: bool) -> None:
        """Count one login attempt of `address`."""
        now = self.clock()
        if succeeded:
            self._failures.forget(address)
            return
        if not self._failures.take(address) or self._failures.retry_after(address) > 0:
            self._locked_until[address] = now + self.lockout_s
            self._failures.forget(address)
            log.warning("admin login: %s locked out for %.0f s after %d failed attempts", address, self.lockout_s,
                        self.max_failures)
        for stale in [a for a, until in self._locked_until.items() if until <= now]:
            del self._locked_until[stale]
