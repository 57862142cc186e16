"""Model weights of codecs: explicit directories, and a cheap reachability check of a download host (no
request is sent; an unreachable host fails in milliseconds). The lookup order lives in `codecbench.resources`."""

from __future__ import annotations

import importlib.util
import socket
from functools import lru_cache
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from codecbench.codecs.base import Availability
from codecbench.codecs.spec import CodecSpec

def missing_files(directory: Path, names: list[str]) -> list[str]:
    """The names in `names` that are not files in `directory`."""
    return [n for n in names if not (directory / n).is_file()]


def require_files(directory: Path, names: list[str], what: str) -> Path:
    """`directory` if it holds every file in `names`.

    Raises:
        ValueError: naming the directory, where it came from (`what`) and the missing files.
    """
    directory = Path(directory).expanduser()
    missing = missing_files(directory, names)
    if missing:
        raise ValueError(f"{what} {directory} lacks {', '.join(missing)}")
    return directory


@lru_cache(maxsize=None)
def unreachable_reason(url: str, timeout_s: float = 2.0) -> str:
    """Why the host of `url` cannot be reached (DNS or TCP connect, `timeout_s` at most); "" if it can.

    Cached per process: a listing of many codecs probes each host once.
    """
    parsed = urlparse(url)
    host, port = parsed.hostname or url, parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return ""
    except OSError as exc:
        return f"{host} is unreachable ({exc})"


class WeightsOption:
    """Mixin for codecs with a `weights=DIR` option: availability depends on the modules in
    `required_modules` and on the weights the option (or the default lookup) points at, which the codec
    judges in `weights_availability`."""

    required_modules: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def weights_availability(cls, weights: str | None) -> Availability:
        raise NotImplementedError

    @classmethod
    def availability(cls) -> Availability:
        return cls.availability_of_weights(None)

    @classmethod
    def availability_for(cls, spec: CodecSpec) -> Availability:
        return cls.availability_of_weights(spec.options.get("weights"))

    @classmethod
    def availability_of_weights(cls, weights: str | None) -> Availability:
        missing = [m for m in cls.required_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, f"{', '.join(missing)} not installed: pip install 'codecbench[neural]'")
        return cls.weights_availability(weights)
