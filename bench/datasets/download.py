"""Checksummed downloads and archive extraction into the user cache."""

from __future__ import annotations

import tarfile
import urllib.request
from pathlib import Path

from tqdm import tqdm

from codecbench.resources import file_digest


def download(url: str, target: Path, checksum: str | None, algorithm: str = "sha256", alternatives: str = "") -> Path:
    """Download `url` to `target` (resuming nothing, verifying always).

    Args:
        checksum: the expected hex digest; None where the publisher gives none (an existing `target` is kept
            and the caller records the digest of what arrived).
        alternatives: what the user can do instead, appended to the no-network error.

    Raises:
        ConnectionError: the host cannot be reached (the message names the URL and `alternatives`).
        ValueError: the checksum does not match (the file is removed).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or (checksum is not None and file_digest(target, algorithm) != checksum):
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
            reason = getattr(exc, "reason", None) or exc
            raise ConnectionError(f"cannot download {url}: {reason}" + (f"; {alternatives}" if alternatives else "")) from exc
        partial.replace(target)
    if checksum is None:
        return target
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
