"""Shared infrastructure: the user cache, file hashing, and the one lookup order for weights and data.

Every model file and dataset is found through `locate()`, in this order:

1. an explicit path (a codec's `weights=DIR` option, `--root DIR`);
2. an environment variable (e.g. `$CODECBENCH_LYRA_DIR`, `$CODECBENCH_DATA`);
3. the user cache (`$CODECBENCH_CACHE`, else the platform's user cache dir), where downloads land;
4. `../shared/` beside the checkout or the working directory (the project's development machines only);
5. files embedded in the package (the LibriSpeech sample, Lyra v2's weights);

and only then, where the caller allows it, the official download into the user cache. An explicit path
or environment variable that does not hold the resource is an error, never skipped silently.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

CACHE_ENV = "CODECBENCH_CACHE"
CHECKOUT = Path(__file__).resolve().parents[1]  # the checkout, when installed in editable mode


def cache_dir() -> Path:
    """codecbench's cache root: `$CODECBENCH_CACHE`, else the platform's user cache."""
    return Path(os.environ.get(CACHE_ENV) or user_cache_dir("codecbench"))


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shared_dirs() -> list[Path]:
    """`../shared` beside the checkout and beside the working directory (development machines), existing
    ones only, in that order."""
    candidates = dict.fromkeys(base.parent / "shared" for base in (CHECKOUT, Path.cwd()))
    return [c for c in candidates if c.is_dir()]


@dataclass(frozen=True)
class Resource:
    """Something `locate()` can find: a directory holding every path in `required`.

    Args:
        name: what it is, for messages (e.g. "Lyra v2 weights").
        required: files or folders (relative) a directory must hold to count.
        env_var: the environment variable that may name it.
        cache_path: its place under the user cache (relative), where a download puts it.
        shared_path: its place under `../shared` (relative), on development machines.
        embedded: the folder inside the installed package that holds it (package data).
    """

    name: str
    required: tuple[str, ...]
    env_var: str | None = None
    cache_path: str | None = None
    shared_path: str | None = None
    embedded: Path | None = None

    def missing(self, directory: Path) -> list[str]:
        """The required paths `directory` lacks."""
        return [name for name in self.required if not (directory / name).exists()]

    def candidates(self) -> list[tuple[str, Path]]:
        """(source, directory) pairs after the explicit path and the environment variable, in order."""
        found: list[tuple[str, Path]] = []
        if self.cache_path:
            found.append(("user cache", cache_dir() / self.cache_path))
        if self.shared_path:
            found += [("../shared", shared / self.shared_path) for shared in shared_dirs()]
        if self.embedded is not None:
            found.append(("embedded", self.embedded))
        return found

    def looked_in(self) -> str:
        """Where `locate` looks, for error messages."""
        places = [f"${self.env_var}"] if self.env_var else []
        places += [str(path) for _, path in self.candidates()]
        return ", ".join(places)


@dataclass(frozen=True)
class Located:
    """Where a resource was found and through which step of the order."""

    path: Path
    source: str


def locate(resource: Resource, explicit: str | Path | None = None) -> Located | None:
    """Find `resource` in the documented order (module docstring); None when no step holds it.

    Raises:
        FileNotFoundError: an explicit path or the environment variable names a place that lacks it.
    """
    if explicit is not None:
        return Located(_require(resource, Path(explicit).expanduser(), "the given path"), "explicit")
    if resource.env_var and os.environ.get(resource.env_var):
        path = Path(os.environ[resource.env_var]).expanduser()
        return Located(_require(resource, path, f"${resource.env_var}"), "environment")
    for source, path in resource.candidates():
        if not resource.missing(path):
            return Located(path, source)
    return None


def _require(resource: Resource, path: Path, what: str) -> Path:
    missing = resource.missing(path)
    if missing:
        raise FileNotFoundError(f"{what} {path} does not hold the {resource.name}: it lacks {', '.join(missing)}")
    return path
