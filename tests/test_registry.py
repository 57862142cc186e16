"""Registry and entry points, including a third-party codec registered by a real dist-info entry point."""

import sys
import textwrap

import numpy as np
import pytest

from codecbench.codecs import codec_names, get_codec_class, load_codec
from codecbench.codecs.registry import CODECS
from codecbench.plugins import DISABLE_ENV, RegistryError

TOY_MODULE = '''
import numpy as np
from codecbench.codecs.base import Codec, Encoded


class ToyCodec(Codec):
    """8-bit mu-law PCM at 8 kHz: 64 kbps."""

    name = "toy"
    sample_rate = 8000
    operating_points = (64.0,)
    default_point = 64.0

    def encode(self, waveform):
        mu = 255.0
        y = np.sign(waveform) * np.log1p(mu * np.abs(np.clip(waveform, -1, 1))) / np.log1p(mu)
        return Encoded([((y + 1) * 127.5).round().astype(np.uint8).tobytes()], len(waveform))

    def decode(self, encoded):
        y = np.frombuffer(b"".join(encoded.packets), np.uint8).astype(np.float32) / 127.5 - 1
        return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(255.0)) / 255.0).astype(np.float32)
'''


def install_plugin(tmp_path, monkeypatch, name="toy", target="toy_codec:ToyCodec", dist="toy_codec"):
    """A real distribution on sys.path: a module plus dist-info with an entry_points.txt."""
    (tmp_path / "toy_codec.py").write_text(TOY_MODULE)
    info = tmp_path / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[codecbench.codecs]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    CODECS.refresh()


@pytest.fixture(autouse=True)
def fresh_registry():
    CODECS.refresh()
    yield
    sys.modules.pop("toy_codec", None)
    CODECS.refresh()


def test_builtins_are_registered_by_entry_points():
    assert {"opus", "codec2", "reference", "lowpass"} <= set(codec_names())
    assert get_codec_class("opus").__name__ == "OpusCodec"


def test_third_party_entry_point_runs_through_the_runner(tmp_path, monkeypatch, short_selection):
    from codecbench.runner import run_benchmark

    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, monkeypatch)
    assert "toy" in codec_names()
    assert CODECS.distribution("toy") == "toy_codec"
    result = run_benchmark(short_selection, ["toy@64"], ["pesq_nb"], tmp_path / "run", progress=False)
    rows = result.rows
    assert list(rows["spec"].unique()) == ["toy@64"] and (rows["error"] == "").all()
    assert np.allclose(rows["measured_kbps"], 64.0, rtol=1e-3)
    assert rows["pesq_nb"].min() > 3.0  # mu-law at 8 kHz is toll quality


def test_disable_autoload_hides_third_party(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch)
    monkeypatch.setenv(DISABLE_ENV, "1")
    CODECS.refresh()
    assert "toy" not in codec_names() and "opus" in codec_names()


def test_duplicate_name_is_an_error(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, name="opus")
    with pytest.raises(RegistryError, match="registered twice"):
        codec_names()


def test_broken_plugin_reports_its_origin(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, name="broken", target="no_such_module:Nothing")
    with pytest.raises(RegistryError, match="toy_codec"):
        get_codec_class("broken")


def test_unknown_codec_and_bad_point_list_valid_values():
    with pytest.raises(ValueError, match="registered"):
        load_codec("nosuchcodec@1")
    with pytest.raises(ValueError, match=r"select one of \[0.7"):
        load_codec("codec2@5")
    with pytest.raises(ValueError, match="6-32"):
        load_codec("opus@64")
    with pytest.raises(ValueError, match="no option"):
        load_codec("codec2@2.4:steps=3")


def test_availability_of_modules_names_the_missing_one_and_the_fix():
    from codecbench.codecs.base import Availability

    assert Availability.of_modules("json", "numpy", install="x").available
    status = Availability.of_modules("json", "no_such_module_xyz", install="'codecbench[metrics]'")
    assert not status.available
    assert "no_such_module_xyz is not installed" in status.reason
    assert status.reason.endswith("pip install 'codecbench[metrics]'")
