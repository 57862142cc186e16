"""Entry-point plugin registries (pluggy-style): names are listed without importing, classes load on demand.

Set `CODECBENCH_DISABLE_PLUGIN_AUTOLOAD=1` to load only the plugins that ship with codecbench.
Two distributions claiming one name is an error, never a silent shadowing, and so is an entry point whose
name differs from its class's `name`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

DISABLE_ENV = "CODECBENCH_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN = "codecbench"  # the distribution of the built-in plugins

T = TypeVar("T")


class RegistryError(RuntimeError):
    """Two plugins claim one name, or a plugin fails to load."""


def _distribution(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


class PluginRegistry(Generic[T]):
    """Classes registered under one entry-point group.

    Args:
        group: the entry-point group, e.g. `codecbench.codecs`.
        base: the class every plugin must subclass.
        kind: a word for error messages (`codec`, `metric`).
    """

    def __init__(self, group: str, base: type[T], kind: str) -> None:
        self.group, self.base, self.kind = group, base, kind
        self._load = lru_cache(maxsize=None)(self._load_uncached)
        self._entries = lru_cache(maxsize=None)(self._scan)

    def _scan(self) -> dict[str, EntryPoint]:
        builtin_only = os.environ.get(DISABLE_ENV, "").lower() not in {"", "0", "false"}
        found: dict[str, EntryPoint] = {}
        for ep in entry_points(group=self.group):
            name = ep.name.lower()
            if builtin_only and _distribution(ep) != BUILTIN:
                continue
            if name in found and found[name].value != ep.value:
                other = found[name]
                raise RegistryError(
                    f"{self.kind} name {name!r} is registered twice: {other.value} ({_distribution(other)}) "
                    f"and {ep.value} ({_distribution(ep)})"
                )
            found[name] = ep
        return dict(sorted(found.items()))

    def refresh(self) -> None:
        """Forget cached entry points (after installing a plugin in a running process)."""
        self._entries.cache_clear()
        self._load.cache_clear()

    def names(self) -> list[str]:
        """Registered names, without importing anything."""
        return list(self._entries())

    def distribution(self, name: str) -> str:
        """The distribution that registered `name`."""
        return _distribution(self._entries()[name])

    def distribution_version(self, name: str) -> str:
        """The installed version of the distribution that registered `name` ('?' when unknown)."""
        dist = self._entries()[name].dist
        return dist.version if dist is not None else "?"

    def is_builtin(self, name: str) -> bool:
        """Whether `name` ships with codecbench (third-party plugins are opt-in where a default set is chosen)."""
        return self.distribution(name) == BUILTIN

    def get(self, name: str) -> type[T]:
        """Import and return the class registered as `name`.

        Raises:
            ValueError: nothing of that name.
            RegistryError: the plugin fails to import or has the wrong type.
        """
        return self._load(name.lower())

    def _load_uncached(self, name: str) -> type[T]:
        entries = self._entries()
        if name not in entries:
            raise ValueError(f"unknown {self.kind} {name!r}; registered: {', '.join(entries) or 'none'}")
        ep = entries[name]
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not look like a missing one
            raise RegistryError(
                f"{self.kind} {name!r} from {_distribution(ep)} ({ep.value}) failed to load: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise RegistryError(f"{ep.value} is not a subclass of {self.base.__name__}")
        declared = getattr(cls, "name", None)
        if not isinstance(declared, str) or declared.lower() != name:
            raise RegistryError(f"{self.kind} entry point {name!r} of {_distribution(ep)} loads {ep.value}, whose "
                                f"`name` is {declared!r}: the entry point's name must equal the class's `name`")
        return cls
