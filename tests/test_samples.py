"""`codecbench samples`: a static page of runs kept with `--keep-audio`: a balanced pick across speakers, the
reference then the systems by bitrate, every file and link of the page resolving, merged runs, clear errors, and
(one browser session) keyboard operation, loudness matching and no serious axe-core violation."""

from __future__ import annotations

import json
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest

from codecbench.cli import main
from codecbench.datasets import Selection, select
from codecbench.resources import file_digest
from codecbench.runner import run_benchmark
from codecbench.samples import build_samples

sys.path.insert(0, str(Path(__file__).parent / "mushra"))
from browser import accessibility_violations, launch, needs_chromium, screenshot, serious  # noqa: E402

IDS = ("1688-142285-0002", "2414-128291-0003", "2609-156975-0003", "3005-163389-0002", "1688-142285-0003")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, librispeech_root):
    """Two runs of the same five utterances (four speakers), one spec each, kept with --keep-audio; the first has
    a report."""
    from codecbench.report import build_report

    everything = select("librispeech", librispeech_root, "sample")
    selection = Selection(everything.dataset, everything.root, everything.split,
                          [u for u in everything.utterances if u.id in IDS])
    root = tmp_path_factory.mktemp("samples")
    made = {}
    for name, spec in (("opus", "opus@12"), ("codec2", "codec2@1.2")):
        made[name] = run_benchmark(selection, [spec], ["si_sdr", "stoi"], root / name, progress=False,
                                   command=["test"], keep_audio=True).out
    build_report([made["opus"]], formats=("html",))
    return made


class Links(HTMLParser):
    """Every `src` and `href` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.targets += [value for name, value in attrs if name in ("src", "href") and value]


def test_a_merged_page_shows_kept_audio_by_bitrate_and_every_link_resolves(runs, tmp_path, capsys):
    out = tmp_path / "page"
    assert main(["samples", str(runs["opus"]), str(runs["codec2"]), "--out", str(out), "--utterances", "4",
                 "--report", str(runs["opus"] / "report")]) == 0
    assert "4 utterances x 2 systems (+ reference): codec2@1.2, opus@12" in capsys.readouterr().out
    parser = Links()
    parser.feed((out / "index.html").read_text())
    assert len([t for t in parser.targets if t.endswith(".flac")]) == 4 * 3
    for target in parser.targets:
        assert (out / unquote(target)).resolve().is_file(), target
    assert any(t.endswith("report/report.html") for t in parser.targets)
    listed = json.loads((out / "samples.json").read_text())
    rows = pd.concat(pd.read_parquet(r / "utterances.parquet") for r in runs.values())
    speakers = [u["speaker"] for u in listed["utterances"]]
    assert len(set(speakers)) == 4  # four speakers, four utterances: one each
    for utterance in listed["utterances"]:
        cells = utterance["cells"]
        assert [c["system"] for c in cells] == ["Reference", "codec2@1.2", "opus@12"]
        assert cells[0]["sha256"] == file_digest(utterance["reference"])  # the input, copied as it is
        for cell in cells[1:]:
            row = rows[(rows["utterance"] == utterance["utterance"]) & (rows["spec"] == cell["system"])].iloc[0]
            assert cell["sha256"] == row["audio_sha256"] == file_digest(out / cell["audio"])
            assert cell["scores"]["si_sdr"] == f"{row['si_sdr']:.2f}"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        ["index.html", "samples.json"] + [c[k] for u in listed["utterances"] for c in u["cells"]
                                          for k in ("audio", "spectrogram")])  # only the shown excerpts


def test_runs_without_kept_audio_or_unknown_systems_are_one_line_errors(runs, tmp_path, capsys, short_selection):
    plain = run_benchmark(short_selection, ["opus@6"], ["si_sdr"], tmp_path / "plain", progress=False,
                          command=["test"]).out
    assert main(["samples", str(plain), "--out", str(tmp_path / "p1")]) == 2
    assert "run them with --keep-audio" in capsys.readouterr().err
    assert main(["samples", str(runs["opus"]), "--out", str(tmp_path / "p2"), "--systems", "lyra@3.2"]) == 2
    assert "not in the runs" in capsys.readouterr().err
    altered = tmp_path / "altered"
    shutil.copytree(runs["opus"], altered)
    victim = next((altered / "audio").rglob("*.flac"))
    victim.write_bytes(victim.read_bytes()[:-10])
    assert main(["samples", str(altered), "--out", str(tmp_path / "p4"), "--utterances", "5"]) == 2
    assert f"{victim} was altered (its SHA-256 differs" in capsys.readouterr().err
    (tmp_path / "p3").mkdir()
    (tmp_path / "p3" / "thesis.tex").write_text("mine")
    assert main(["samples", str(runs["opus"]), "--out", str(tmp_path / "p3")]) == 2
    assert "holds no samples page" in capsys.readouterr().err


@needs_chromium
def test_the_page_is_keyboard_operable_loudness_matched_and_passes_axe(runs, tmp_path):
    from playwright.sync_api import sync_playwright

    result = build_samples([runs["opus"], runs["codec2"]], tmp_path / "page", utterances=4)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(result.page.as_uri())
        assert serious(accessibility_violations(page)) == []
        page.keyboard.press("Tab")  # the first focusable control is the loudness switch
        assert page.evaluate("document.activeElement.id") == "match-loudness"
        page.keyboard.press("Space")
        assert page.is_checked("#match-loudness")
        volumes = page.evaluate("[...document.querySelectorAll('audio')].map(a => [a.volume, +a.dataset.lufs])")
        quietest = min(lufs for _, lufs in volumes)
        for volume, lufs in volumes:
            assert volume == pytest.approx(10 ** ((quietest - lufs) / 20), rel=1e-6)
        assert "Loudness-matched" in page.inner_text("#match-status")
        labels = page.evaluate("[...document.querySelectorAll('audio')].map(a => a.getAttribute('aria-label'))")
        assert all(label.startswith("Play ") for label in labels) and len(labels) == 12
        screenshot(page, tmp_path, "samples_page.png", full_page=False)
        browser.close()


def test_a_page_of_scored_pairs_shows_the_decoded_files_against_their_references(tmp_path, speech):
    """Pairs scored with `codecbench score --keep-audio`: the reference is the pair's reference file, the cell the
    decoded file as scored, and no bitrate is claimed."""
    import soundfile as sf

    from codecbench.pairs import pairs_from_folders, score_pairs

    for folder, gain in (("ref", 1.0), ("deg", 0.5)):
        (tmp_path / folder).mkdir()
        for k in range(2):
            sf.write(tmp_path / folder / f"item{k}.wav", gain * speech[k * 16000:(k + 2) * 16000], 16000)
    run = score_pairs(pairs_from_folders(tmp_path / "ref", tmp_path / "deg"), ["si_sdr"], tmp_path / "run", "test",
                      progress=False, keep_audio=True).out
    result = build_samples([run], tmp_path / "page", utterances=2)
    listed = json.loads((result.out / "samples.json").read_text())
    assert [[c["system"] for c in u["cells"]] for u in listed["utterances"]] == [["Reference", "deg"]] * 2
    for utterance in listed["utterances"]:
        assert utterance["reference"] == str(tmp_path / "ref" / f"{utterance['utterance']}.wav")
        assert utterance["cells"][1]["measured_kbps"] is None
    assert "bitrate not measured" in result.page.read_text()
