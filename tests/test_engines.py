"""Engines: the local engine's worker pool and the Ray engine give the same rows and the same run folder as
everything in one process, for deterministic and stochastic codecs, for error rows, and across resumes."""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from run_helpers import comparable

from codecbench.datasets import Selection, select
from codecbench.engines import LocalEngine, make_engine
from codecbench.journal import Journal
from codecbench.rundir import JOURNAL
from codecbench.runner import run_benchmark

SPECS = ["opus@6", "codec2@2.4", "mel2mel@1.5:steps=2,seeds=2"]  # the last one stochastic: per-row seeds
METRICS = ["pesq_wb", "stoi"]
RUN_FILES = {"rows.journal", "utterances.parquet", "utterances.csv", "summary.csv", "manifest.csv", "run.json"}


@pytest.fixture(scope="module")
def selection(librispeech_root) -> Selection:
    """Two real utterances of the embedded sample."""
    everything = select("librispeech", librispeech_root, "sample")
    picked = [u for u in everything.utterances if u.id in ("1688-142285-0002", "2414-128291-0003")]
    return Selection(everything.dataset, everything.root, everything.split, picked)


@pytest.fixture(scope="module")
def messy(tmp_path_factory, speech) -> Selection:
    """A folder with a good, a silent, a corrupt and a too-short file: rows with and without errors."""
    root = tmp_path_factory.mktemp("messy")
    (root / "spk").mkdir()
    sf.write(root / "spk" / "good.wav", speech[:48000], 16000)
    sf.write(root / "spk" / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(root / "spk" / "short.wav", speech[8000:9600], 16000)
    (root / "spk" / "corrupt.flac").write_bytes(b"fLaC" + bytes(range(256)) * 20)
    return select("folder", root)


def run(selection, out: Path, engine, specs=SPECS, resume: bool = False):
    with engine:
        return run_benchmark(selection, specs, METRICS, out, workers=2, resume=resume, progress=False,
                             command=["test"], engine=engine)


@pytest.fixture(scope="module")
def inline_run(tmp_path_factory, selection, torch_one_thread):
    """Everything in this process: the reference every engine must match."""
    return run(selection, tmp_path_factory.mktemp("inline"), LocalEngine(workers=1))


def assert_same_run(result, expected) -> None:
    """Same rows value for value (wall-clock columns aside), same files, same summary and run identity."""
    pd.testing.assert_frame_equal(comparable(result.rows), comparable(expected.rows))
    assert {p.name for p in result.out.iterdir()} == {p.name for p in expected.out.iterdir()} == RUN_FILES
    summary = pd.read_csv(result.out / "summary.csv")
    pd.testing.assert_frame_equal(summary.drop(columns=[c for c in summary if c.endswith("_s")]),
                                  pd.read_csv(expected.out / "summary.csv").drop(
                                      columns=[c for c in summary if c.endswith("_s")]))
    info, reference = (json.loads((r.out / "run.json").read_text()) for r in (result, expected))
    assert info["config"] == reference["config"] and info["dataset"] == reference["dataset"]


def test_the_local_pool_codes_cpu_codecs_in_its_workers_and_torch_codecs_here(tmp_path, selection, inline_run):
    engine = LocalEngine(workers=2)
    result = run(selection, tmp_path / "pool", engine)
    assert engine.in_workers("opus@6") and engine.in_workers("codec2@2.4")
    assert not engine.in_workers("mel2mel@1.5:seeds=2,steps=2")
    assert_same_run(result, inline_run)
    assert (result.rows["error"] == "").all() and (result.rows["n_seeds"].dropna() == 2).all()


def test_local_pool_error_rows_equal_inline(tmp_path, messy):
    pooled = run(messy, tmp_path / "pool", LocalEngine(workers=2), specs=["opus@6", "codec2@0.7"])
    inline = run(messy, tmp_path / "inline", LocalEngine(workers=1), specs=["opus@6", "codec2@0.7"])
    pd.testing.assert_frame_equal(comparable(pooled.rows), comparable(inline.rows))
    errors = pooled.rows.set_index(["utterance", "spec"])["error"]
    assert "cannot read" in errors[("spk/corrupt", "opus@6")] and "silent" in errors[("spk/silent", "codec2@0.7")]
    assert "pesq_wb" in errors[("spk/short", "codec2@0.7")] and errors[("spk/good", "opus@6")] == ""


def test_an_unknown_engine_or_ray_options_on_the_local_engine_are_errors():
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine("slurm")
    with pytest.raises(ValueError, match="--engine ray"):
        make_engine("local", address="auto")


def test_the_ray_engine_without_ray_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    from codecbench.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["run", "--engine", "ray", "--limit", "1", "--no-progress", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == 'codecbench run: error: --engine ray needs Ray: pip install ".[ray]"'
    assert not (tmp_path / "out").exists()


# -- Ray: a local instance with 2 CPUs, started once for the tests below --------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_gives_the_run_of_one_process(ray_cluster, tmp_path, selection, inline_run):
    engine = make_engine("ray", workers=2, threads=1)
    result = run(selection, tmp_path / "ray", engine)
    assert_same_run(result, inline_run)
    assert json.loads((result.out / "run.json").read_text())["invocations"][-1]["engine"] == "ray"
    assert sum(engine.nodes["coded"].values()) == sum(engine.nodes["scored"].values()) == len(result.rows)


def test_ray_error_rows_equal_the_local_engines(ray_cluster, tmp_path, messy):
    on_ray = run(messy, tmp_path / "ray", make_engine("ray", workers=2, threads=1), specs=["opus@6", "codec2@0.7"])
    local = run(messy, tmp_path / "local", LocalEngine(workers=2), specs=["opus@6", "codec2@0.7"])
    pd.testing.assert_frame_equal(comparable(on_ray.rows), comparable(local.rows))
    assert (on_ray.rows["error"] != "").sum() == 6  # corrupt and silent for both codecs, short for both metrics


def test_a_run_resumes_across_engines(ray_cluster, tmp_path, selection, inline_run):
    out = tmp_path / "mixed"
    run(selection, out, make_engine("ray", workers=2, threads=1), specs=SPECS[:1])
    run(selection, out, LocalEngine(workers=2), specs=SPECS[:2], resume=True)  # ray -> local
    result = run(selection, out, make_engine("ray", workers=2, threads=1), specs=SPECS, resume=True)  # local -> ray
    assert_same_run(result, inline_run)
    invocations = json.loads((out / "run.json").read_text())["invocations"]
    assert [(i["engine"], i["todo"]) for i in invocations] == [("ray", 2), ("local", 2), ("ray", 2)]


def test_both_engines_give_equal_rows_at_the_default_threads(ray_cluster, tmp_path, torch_one_thread):
    """No `--threads`, and this process's torch on several threads (as a user's may be): a torch codec's rows
    are equal value for value on both engines, and run.json records the one thread count both used."""
    import torch

    from codecbench.cli import main

    common = ["run", "--limit", "1", "--codec", "gan-mel@1.5", "--metrics", "pesq_wb,stoi", "--workers", "1",
              "--no-progress"]
    torch.set_num_threads(4)  # torch_one_thread restores the count afterwards
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    assert main([*common, "--engine", "ray", "--out", str(tmp_path / "ray")]) == 0
    local, on_ray = (pd.read_parquet(tmp_path / name / "utterances.parquet") for name in ("local", "ray"))
    assert (local["error"] == "").all() and local["pesq_wb"].notna().all()
    pd.testing.assert_frame_equal(comparable(on_ray), comparable(local), check_exact=True)
    for name in ("local", "ray"):
        info = json.loads((tmp_path / name / "run.json").read_text())
        assert info["invocations"][-1]["torch_threads"] == info["environment"]["torch_threads"] == 1


def test_killed_actors_are_retried_and_no_row_is_lost_or_doubled(ray_cluster, tmp_path, selection, inline_run):
    """Every codec actor is killed (SIGKILL) as the first row is stored, while the driver holds the run's other
    tasks in flight on them: the tasks are retried on the restarted actors, and the run equals one process's."""
    from codecbench.engines.ray import RayEngine

    killed: list[int] = []

    class KillsItsActorsAtTheFirstRow(RayEngine):
        def run(self, work, store, progress):
            from ray._private.state import actors  # the GCS actor table: each actor's process

            pids = [actors(actor._actor_id.hex())["Pid"] for actor in self.pool]

            def store_then_kill(row):
                store(row)
                if not killed:
                    killed.extend(pids)
                    for pid in pids:
                        os.kill(pid, signal.SIGKILL)

            super().run(work, store_then_kill, progress)

    out = tmp_path / "killed"
    result = run(selection, out, KillsItsActorsAtTheFirstRow(workers=2, threads=1))
    assert len(killed) == 2, killed  # one actor per CPU of the 2-CPU instance
    assert_same_run(result, inline_run)
    keys = [(r["utterance"], r["spec"]) for r in Journal(out / JOURNAL).records()]
    assert len(keys) == len(set(keys)) == len(inline_run.rows)


def test_both_engines_keep_the_same_audio(ray_cluster, tmp_path, selection):
    """`--keep-audio` on Ray: the metric task that builds a row writes its file, byte for byte the local run's."""
    from codecbench import kept_audio
    from codecbench.rows import record_key

    kept = {}
    for name, engine in (("ray", make_engine("ray", workers=2, threads=1)), ("local", LocalEngine(workers=2))):
        with engine:
            result = run_benchmark(selection, SPECS[:2], ["si_sdr"], tmp_path / name, workers=2, progress=False,
                                   command=["test"], engine=engine, keep_audio=True)
        kept[name] = {record_key(r): (r["audio_sha256"], kept_audio.problem(result.out, r, record_key(r)))
                      for r in result.rows.to_dict("records")}
    assert kept["ray"] == kept["local"] and len(kept["ray"]) == 4
    assert all(problem == "" for _, problem in kept["ray"].values())
