"""Reading the input from an object store: the same `codecbench run` on a local LibriSpeech split and on a copy
of it in S3, repeated alternately, wall time of the whole command (listing, manifest checksums, reads, coding,
scoring). The S3 endpoint is moto's standalone server on 127.0.0.1 (real HTTP through botocore and s3fs, no
network), so this measures the client-side cost of the fsspec path, not a real network. Needs the `[cloud]`
extra and `moto[server]` (the `[test]` extra).

    python -m codecbench.benchmarks.remote_data --split sample --limit 14 --codecs opus@6 --metrics stoi
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codecbench.benchmarks.engine_speed import load
from codecbench.datasets.librispeech import EMBEDDED_ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_s3(bucket: str, secret: str = "codecbench-local-secret") -> Iterator[tuple[dict[str, str], Any]]:
    """moto's S3 server on a free port of 127.0.0.1 with an empty `bucket`.

    Yields:
        The environment of a process that reads `s3://bucket/...` from it (dummy credentials, no AWS config
        files), and a boto3 client to fill the bucket.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        nowhere = str(Path(tempfile.gettempdir()) / "codecbench-no-aws-config")
        env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
        env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="codecbench-local",
                   AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=nowhere,
                   AWS_SHARED_CREDENTIALS_FILE=nowhere)
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="codecbench-local",
                              aws_secret_access_key=secret, region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        yield env, client
    finally:
        server.stop()


def upload_tree(client: Any, bucket: str, folder: Path, prefix: str) -> int:
    """Upload every file under `folder` to `s3://bucket/prefix/<relative path>`; returns how many."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return len(files)


def timed_run(root: str, args: argparse.Namespace, env: dict[str, str]) -> float:
    """Wall seconds of one `codecbench run` in a fresh folder."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "codecbench.cli", "run", "--root", root, "--split", args.split,
                   "--codecs", args.codecs, "--metrics", args.metrics, "--workers", str(args.workers),
                   "--no-progress", "--out", out] + (["--limit", str(args.limit)] if args.limit else [])
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=EMBEDDED_ROOT, help="local LibriSpeech root")
    parser.add_argument("--split", default="sample")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--codecs", default="opus@6")
    parser.add_argument("--metrics", default="stoi")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with local_s3("bench") as (env, client):
        count = upload_tree(client, "bench", args.root / args.split, f"LibriSpeech/{args.split}")
        print(f"uploaded {count} files of {args.root / args.split} to s3://bench/LibriSpeech/{args.split} "
              f"(moto on {env['AWS_ENDPOINT_URL']})")
        timings: dict[str, list[float]] = {"local": [], "s3": []}
        for repeat in range(args.repeats):
            for name, root in (("local", str(args.root)), ("s3", "s3://bench/LibriSpeech")):
                timings[name].append(timed_run(root, args, env))
                print(f"repeat {repeat + 1} {name}: {timings[name][-1]:.2f} s ({load()})")
    local, s3 = min(timings["local"]), min(timings["s3"])
    print(f"fastest: local {local:.2f} s, s3 {s3:.2f} s, ratio {s3 / local:.3f}")


if __name__ == "__main__":
    main()
