"""Checksummed downloads and archive extraction into the user cache."""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.request
from pathlib import Path

from platformdirs import user_cache_dir
from tqdm import tqdm

CACHE_ENV = "CODECBENCH_CACHE"


def cache_dir() -> Path:
    """codecbench's cache root: `$CODECBENCH_CACHE`, else the platform's user cache."""
    return Path(os.environ.get(CACHE_ENV) or user_cache_dir("codecbench"))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, target: Path, checksum: str, algorithm: str = "sha256") -> Path:
    """Download `url` to `target` (resuming nothing, verifying always).

    Raises:
        OSError: the network is unreachable.
        ValueError: the checksum does not match (the file is removed).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or file_digest(target, algorithm) != checksum:
        partial = target.with_suffix(target.suffix + ".partial")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                total = int(response.headers.get("Content-Length", 0)) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {target.name}") as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
                        bar.update(len(block))
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise OSError(f"cannot download {url}: {exc} (no network? pass --root to local data)") from exc
        partial.replace(target)
    actual = file_digest(target, algorithm)
    if actual != checksum:
        target.unlink()
        raise ValueError(f"{algorithm} mismatch for {url}: got {actual}, expected {checksum}")
    return target


def extract(archive: Path, destination: Path) -> None:
    """Extract a tar archive safely (no absolute paths or links out of `destination`)."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(destination, filter="data")
