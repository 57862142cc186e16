"""Import a metric package whose module imports name libraries it never calls on the path codecbench uses,
where those libraries cannot be imported here (e.g. torchaudio beside a newer torch, pyvad under numpy 2)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def _placeholder(name: str, reason: str) -> ModuleType:
    """An empty module whose every attribute is a function raising ImportError with `reason`."""
    module = ModuleType(name, f"placeholder for {name}, which cannot be imported here: {reason}")

    def missing(attribute: str):
        if attribute.startswith("__"):  # module protocol (`__file__`, `__path__`): absent, as for any module
            raise AttributeError(attribute)

        def call(*args, **kwargs):
            raise ImportError(f"{name}.{attribute} is not available: {reason}")
        return call

    module.__getattr__ = missing  # type: ignore[method-assign]  # PEP 562: `from name import x` works
    return module


def broken_modules(*names: str) -> dict[str, str]:
    """Which of `names` fail to import here, with the reason."""
    broken = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken binary extension raises OSError, not only ImportError
            broken[name] = f"{type(exc).__name__}: {exc}"
    return broken


def import_beside(module: str, unused: tuple[str, ...]) -> ModuleType:
    """Import `module` although some of `unused` (modules it imports but codecbench never calls) fail.

    Each failing one is an empty placeholder in `sys.modules` during this import only, then removed, so no
    other code ever sees it; `module` keeps its reference, which raises ImportError if it is ever called.
    """
    broken = broken_modules(*unused)
    added = [name for name in broken if name not in sys.modules]
    for name in added:
        sys.modules[name] = _placeholder(name, broken[name])
    try:
        return importlib.import_module(module)
    finally:
        for name in added:
            sys.modules.pop(name, None)
