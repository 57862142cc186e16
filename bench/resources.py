"""Shared infrastructure: availability checks and the dependencies plugins declare, torch's thread settings, the user cache, file hashing, package
versions and the one lookup order for weights and data.

Every model file and dataset is found through `locate()`, in this order:

1. an explicit path (a codec's `weights=DIR` option, `--root DIR`);
2. an environment variable (e.g. `$CODECBENCH_LYRA_DIR`, `$CODECBENCH_DATA`);
   either may be a URI an fsspec filesystem opens (`s3://bucket/LibriSpeech`, see `codecbench.storage`);
3. the user cache (`$CODECBENCH_CACHE`, else the platform's user cache dir), where downloads land; for
   models published on the Hugging Face hub also the hub's own cache, where hub downloads land;
4. `../shared/` beside the checkout or the working directory (the project's development machines only);
5. files embedded in the package (the LibriSpeech sample, Lyra v2's weights);

and only then, where the caller allows it, the official download into the user cache, and only where the
host answers (`unreachable_reason`: a TCP connect, no request). Listing commands (`codecbench codecs`,
`codecbench metrics`) check availability and never download. An explicit path or environment variable
that does not hold the resource is an error, never skipped silently.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import platform
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from platformdirs import user_cache_dir

from codecbench.storage import data_path, reading

if TYPE_CHECKING:
    from upath import UPath

CACHE_ENV = "CODECBENCH_CACHE"
CHECKOUT = Path(__file__).resolve().parents[1]  # the checkout, when installed in editable mode
PACKAGES = ("codecbench", "numpy", "scipy", "soundfile", "soxr", "pandas", "pyarrow", "opuslib-next-bundled", "pycodec2",
            "pesq", "pystoi", "torch", "transformers", "ai-edge-litert", "visqol-python", "speechmos",
            "onnxruntime", "onnx", "librosa", "auraloss", "jiwer", "resemblyzer", "pocketsphinx", "pyroomacoustics")  # can change a score


@dataclass(frozen=True)
class Availability:
    """Whether a codec or metric can run here, and why not."""

    available: bool
    reason: str = ""

    @classmethod
    def of_modules(cls, *modules: str, install: str) -> "Availability":
        """Available when every module imports; else the first that fails and the pip command that fixes it."""
        for module in modules:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return cls(False, f"{module} is not installed ({exc}); pip install {install}")
        return cls(True)


@dataclass(frozen=True)
class Dependencies:
    """The packages a codec or metric needs, declared once (its `requires`): its availability check, the pip
    command its message names and the versions run.json records all derive from this one value.

    Args:
        modules: what must import, in the order checked (e.g. `"speechmos.dnsmos"`).
        extra: the codecbench extra that installs them: the hint is `pip install 'codecbench[<extra>]'`.
        install: the pip arguments instead, where no extra installs them (e.g. `"pycodec2"`).
        records: distributions to record beyond those that provide `modules` (e.g. one the plugin imports
            behind a guard the check cannot try).
        then: dependencies checked only after these are present, with their own hint (an optional back end).
    """

    modules: tuple[str, ...] = ()
    extra: str | None = None
    install: str | None = None
    records: tuple[str, ...] = ()
    then: "Dependencies | None" = None

    @property
    def pip(self) -> str:
        """What follows `pip install` in the hint."""
        assert self.install or self.extra or not self.modules, f"{self.modules}: declare extra or install"
        return self.install or f"'codecbench[{self.extra}]'"

    def plus(self, *modules: str) -> "Dependencies":
        """These dependencies and `modules` (checked after these, with the same hint)."""
        return replace(self, modules=(*self.modules, *modules))

    def check(self) -> Availability:
        """Available when every module imports (then `then`'s); else the first that fails and `pip install ...`."""
        status = Availability.of_modules(*self.modules, install=self.pip)
        if status.available and self.then is not None:
            return self.then.check()
        return status

    def missing(self) -> list[str]:
        """The modules not installed, found without importing any (cheap enough for a listing of heavy models)."""
        return [m for m in self.modules if importlib.util.find_spec(m) is None]

    def distributions(self) -> tuple[str, ...]:
        """The distributions whose versions a run records: those providing `modules` (absent ones left out),
        `records`, then `then`'s."""
        provided = packages_provided()
        names = [dist for m in self.modules for dist in provided.get(m.split(".")[0], ())] + list(self.records)
        names += self.then.distributions() if self.then is not None else ()
        return tuple(dict.fromkeys(canonical_name(n) for n in names))


@lru_cache(maxsize=1)
def packages_provided() -> dict[str, tuple[str, ...]]:
    """Top-level module -> the installed distributions providing it (read once per process, ~0.5 s)."""
    return {module: tuple(dists) for module, dists in packages_distributions().items()}


def canonical_name(distribution: str) -> str:
    """A distribution's normalised name (PEP 503): `Resemblyzer`, `xls_r_sqa` -> `resemblyzer`, `xls-r-sqa`."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


DEFAULT_THREADS = 1
"""torch's intra-op threads for the torch codecs on every engine, unless the run asks for others (`--threads`).

A torch codec's output can change in its last float bits with the thread count (reductions split per thread),
so every engine applies the same count: in this process (local engine), in each Ray actor, whatever this
process or the actor's host would choose by itself. One thread gives the same numbers on every machine and
fits Ray's one CPU per actor; a run's count is in run.json (`invocations[].torch_threads`,
and `environment.torch_threads`)."""


def checked_threads(threads: int) -> int:
    """`threads`, checked.

    Raises:
        ValueError: fewer than one thread.
    """
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, not {threads}")
    return threads


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to `threads` within the block (nothing where torch is not installed)."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def set_torch_threads(threads: int | None) -> None:
    """Set torch's intra-op threads for this process (None: torch's choice; without torch: nothing to set).

    Raises:
        ValueError: fewer than one thread.
    """
    if threads is None:
        return
    checked_threads(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def package_versions(*extra: str) -> dict[str, str]:
    """Installed versions of the packages that can change a score, and of `extra` packages (absent ones are
    left out): the one place versions are collected, for runs, reports, listening tests and training."""
    found = {}
    for name in dict.fromkeys(canonical_name(n) for n in [*PACKAGES, *extra]):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def environment() -> dict[str, Any]:
    """Python, platform and, when torch is already loaded, its intra-op thread count."""
    described: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                                 "machine": platform.machine()}
    if "torch" in sys.modules:
        described["torch_threads"] = sys.modules["torch"].get_num_threads()
    return described


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


def cache_dir() -> Path:
    """codecbench's cache root: `$CODECBENCH_CACHE`, else the platform's user cache."""
    return Path(os.environ.get(CACHE_ENV) or user_cache_dir("codecbench"))


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (a local path, or a URI `codecbench.storage` opens), read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with reading(path), data_path(path).open("rb") as handle:
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
        hub_repo: its Hugging Face hub repository (e.g. `facebook/encodec_24khz`): the hub's cache is looked
            in after the user cache, and `download_from_hub` fetches it.
    """

    name: str
    required: tuple[str, ...]
    env_var: str | None = None
    cache_path: str | None = None
    shared_path: str | None = None
    embedded: Path | None = None
    hub_repo: str | None = None

    def missing(self, directory: Path | UPath) -> list[str]:
        """The required paths `directory` lacks."""
        return [name for name in self.required if not (directory / name).exists()]

    def candidates(self) -> list[tuple[str, Path]]:
        """(source, directory) pairs after the explicit path and the environment variable, in order."""
        found: list[tuple[str, Path]] = []
        if self.cache_path:
            found.append(("user cache", cache_dir() / self.cache_path))
        snapshot = _hub_snapshot(self) if self.hub_repo else None
        if snapshot is not None:
            found.append(("Hugging Face cache", snapshot))
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

    path: Path | UPath
    source: str


def locate(resource: Resource, explicit: str | Path | None = None) -> Located | None:
    """Find `resource` in the documented order (module docstring); None when no step holds it.

    Raises:
        FileNotFoundError: an explicit path or the environment variable names a place that lacks it.
    """
    if explicit is not None:
        return Located(_require(resource, data_path(explicit), "the given path"), "explicit")
    if resource.env_var and os.environ.get(resource.env_var):
        path = data_path(os.environ[resource.env_var])
        return Located(_require(resource, path, f"${resource.env_var}"), "environment")
    for source, path in resource.candidates():
        if not resource.missing(path):
            return Located(path, source)
    return None


def _require(resource: Resource, path: Path | UPath, what: str) -> Path | UPath:
    missing = resource.missing(path)
    if missing:
        raise FileNotFoundError(f"{what} {path} does not hold the {resource.name}: it lacks {', '.join(missing)}")
    return path


HUB_ENDPOINT = "https://huggingface.co"


def _hub_snapshot(resource: Resource) -> Path | None:
    """The folder of the Hugging Face cache holding the resource's files; None when it holds none."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cached = try_to_load_from_cache(resource.hub_repo, resource.required[0])
    return Path(cached).parent if isinstance(cached, str) else None


def hub_unavailable_reason(resource: Resource) -> str:
    """Why `download_from_hub` could not fetch `resource` now ("" if it could): offline mode or no network."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    return unreachable_reason(constants.ENDPOINT or HUB_ENDPOINT)


@dataclass(frozen=True)
class Obtainable:
    """Whether a resource can be had now, found without fetching anything (`obtainable`).

    Args:
        located: where `locate` found it (None: nowhere here).
        error: an explicit path or environment variable that does not hold it (never skipped silently).
        unreachable: why its official download cannot run now ('' where it can, or where it was found).
    """

    located: Located | None = None
    error: str = ""
    unreachable: str = ""


def obtainable(resource: Resource, explicit: str | Path | None = None, download_url: str | None = None) -> Obtainable:
    """The one rule for weights of codecs and metrics: found locally in `locate`'s order, else downloadable when
    its source answers now (the Hugging Face hub for a hub resource, else `download_url`; neither: it has no
    download, as the checkpoints shipped in the package). Never downloads."""
    try:
        found = locate(resource, explicit)
    except FileNotFoundError as exc:
        return Obtainable(error=str(exc))
    if found is not None:
        return Obtainable(found)
    if resource.hub_repo:
        return Obtainable(unreachable=hub_unavailable_reason(resource))
    if download_url is None:
        return Obtainable(unreachable=f"{resource.name} has no download")
    return Obtainable(unreachable=unreachable_reason(download_url))


def download_from_hub(resource: Resource) -> Path:
    """Download the resource's files from its hub repository into the hub's cache (the official download).

    Raises:
        ConnectionError: the hub cannot be reached or refuses.
    """
    from huggingface_hub import snapshot_download

    reason = hub_unavailable_reason(resource)
    if reason:
        raise ConnectionError(f"cannot download {resource.hub_repo}: {reason}")
    try:
        return Path(snapshot_download(resource.hub_repo, allow_patterns=list(resource.required)))
    except Exception as exc:  # HTTP, DNS, authentication: all mean "not here"
        raise ConnectionError(f"cannot download {resource.hub_repo}: {type(exc).__name__}: {exc}") from exc
