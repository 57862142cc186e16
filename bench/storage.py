"""Where input files live: a local path, or a URI an fsspec filesystem opens (`s3://bucket/LibriSpeech`,
`gs://...`, `file:///...`), as a path object either way: `pathlib.Path`, or universal-pathlib's `UPath` over
fsspec (the `[cloud]` extra: fsspec, universal-pathlib, s3fs; other schemes need their own package, e.g. gcsfs).

Local paths never go through fsspec. A URI is read the same way in the driver and in every worker: the path
object travels with the task and each process opens it with its own filesystem instance, whose credentials come
from the filesystem package's environment or config (for S3: `AWS_*` variables, `~/.aws`), never from the URI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from upath import UPath

URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
CLOUD_EXTRA = 'pip install "codecbench[cloud]"'


class StorageUnavailable(RuntimeError):
    """A URI whose filesystem cannot be used here; the message names the package to install."""


def is_uri(location: str | os.PathLike) -> bool:
    """Whether `location` names a file by a URI (`scheme://...`) rather than a local path."""
    return not isinstance(location, Path) and bool(URI.match(str(location)))


def data_path(location: str | os.PathLike) -> Path | UPath:
    """`location` as a path object: a local `Path` (with `~` expanded), or a `UPath` of an installed filesystem.

    Raises:
        StorageUnavailable: fsspec and universal-pathlib, or the filesystem package of the URI's scheme, are
            missing (the message names the package).
        ValueError: the URI holds a password, or its scheme is unknown.
    """
    if not is_uri(location):
        return location if isinstance(location, Path) else Path(location).expanduser()
    if not isinstance(location, str):
        return location  # already a UPath
    if urlsplit(location).password is not None:
        raise ValueError(f"{URI.match(location).group(0)}... holds a password: give credentials through the "
                         "filesystem's environment variables or config, never in the URI (it is recorded in run.json)")
    try:
        from upath import UPath
    except ImportError as exc:
        raise StorageUnavailable(f"reading {location} needs fsspec and universal-pathlib: {CLOUD_EXTRA}") from exc
    path = UPath(location)
    try:
        path.fs
    except ImportError as exc:  # fsspec's message names the package, e.g. "Install s3fs to access S3"
        raise StorageUnavailable(f"cannot open {location}: {exc}") from exc
    return path


@contextmanager
def reading(location: str | os.PathLike) -> Iterator[None]:
    """Turn what a filesystem package raises while reading `location` into an `OSError` naming it (botocore's
    credential and endpoint errors, for one, are not `OSError`s)."""
    try:
        yield
    except (OSError, ValueError, StorageUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - any filesystem package's own error types
        raise OSError(f"cannot read {location}: {type(exc).__name__}: {exc}") from exc
