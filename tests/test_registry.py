"""Registry and entry points: the documented codec plugin (docs/plugins.md) and third-party metrics installed as
real distributions (dist-info entry points), and the safeguards around them."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from codecbench.codecs import codec_names, get_codec_class, load_codec
from codecbench.codecs.registry import CODECS
from codecbench.metrics import default_metric_names, evaluate, get_metric_class, metric_names
from codecbench.metrics.registry import METRICS
from codecbench.plugins import DISABLE_ENV, RegistryError

REPO = Path(__file__).resolve().parents[1]

METRIC_MODULE = """
import numpy as np
from codecbench.metrics import Metric


class LevelDifference(Metric):
    \"\"\"RMS level of the decoded signal relative to the reference, dB.\"\"\"

    name = "level_db"
    sample_rate = 16000

    def compute(self, reference, degraded):
        return {"level_db": float(10 * np.log10(np.mean(degraded ** 2) / np.mean(reference ** 2)))}


class Misspelled(LevelDifference):
    name = "misspelled"
    columns = ("level",)

    def compute(self, reference, degraded):
        return {"levle": 0.0}
"""


def readme_plugin() -> tuple[str, str, str]:
    """The documented codec plugin: (module source, entry-point name, entry-point target)."""
    page = (REPO / "docs" / "plugins.md").read_text()
    source = next(block for block in re.findall(r"```python\n(.*?)```", page, re.S) if "(Codec)" in block)
    name, target = re.search(r'\[project.entry-points."codecbench.codecs"\]\n(\S+) = "(\S+)"', page).groups()
    return source, name, target


def install_plugin(site, monkeypatch, modules: dict[str, str], entry_points: str, dist="toy_codec"):
    """A real distribution on sys.path: modules (dotted name -> source) plus dist-info with entry_points.txt."""
    site.mkdir(parents=True, exist_ok=True)
    for dotted, source in modules.items():
        path = site.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for package in list(path.relative_to(site).parents)[:-1]:
            (site / package / "__init__.py").touch()
        path.write_text(source)
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(site))
    CODECS.refresh()
    METRICS.refresh()


def install_readme_codec(site, monkeypatch, name=None, target=None):
    source, readme_name, readme_target = readme_plugin()
    module = readme_target.split(":")[0]
    install_plugin(site, monkeypatch, {module: source},
                   f"[codecbench.codecs]\n{name or readme_name} = {target or readme_target}\n")
    return readme_name


@pytest.fixture(autouse=True)
def fresh_registry():
    CODECS.refresh()
    METRICS.refresh()
    yield
    for module in [m for m in sys.modules if m.split(".")[0] in {"mypackage", "toy_metrics", "codecbench_mulaw"}]:
        sys.modules.pop(module)
    CODECS.refresh()
    METRICS.refresh()


def test_builtins_are_registered_by_entry_points():
    assert {"opus", "codec2", "reference", "lowpass"} <= set(codec_names())
    assert get_codec_class("opus").__name__ == "OpusCodec"


def test_readme_plugin_example_runs_through_the_runner(tmp_path, monkeypatch, short_selection):
    from codecbench.runner import run_benchmark

    name = install_readme_codec(tmp_path / "site", monkeypatch)
    assert name in codec_names() and CODECS.distribution(name) == "toy_codec"
    result = run_benchmark(short_selection, [f"{name}@64"], ["pesq_nb"], tmp_path / "run", progress=False)
    rows = result.rows
    assert list(rows["spec"].unique()) == [f"{name}@64"] and (rows["error"] == "").all()
    assert np.allclose(rows["measured_kbps"], 64.0, rtol=1e-3)
    assert rows["pesq_nb"].min() > 3.0  # mu-law at 8 kHz is toll quality


def test_an_entry_point_must_carry_its_class_name(tmp_path, monkeypatch):
    install_readme_codec(tmp_path / "site", monkeypatch, name="alaw")
    with pytest.raises(RegistryError, match="entry point 'alaw' .* whose `name` is 'mulaw'"):
        get_codec_class("alaw")


def test_third_party_metrics_are_opt_in_and_checked(tmp_path, monkeypatch, speech):
    install_plugin(tmp_path / "site", monkeypatch, {"toy_metrics": METRIC_MODULE},
                   "[codecbench.metrics]\nlevel_db = toy_metrics:LevelDifference\n"
                   "misspelled = toy_metrics:Misspelled\n", dist="toy_metrics")
    assert {"level_db", "misspelled"} <= set(metric_names())
    assert get_metric_class("level_db").default  # declared default, yet not in the default set
    assert not {"level_db", "misspelled"} & set(default_metric_names())
    assert "pesq_wb" in default_metric_names()
    quieter = evaluate(["level_db"], speech, 0.5 * speech, 16000)
    assert quieter.errors == {} and quieter.values["level_db"] == pytest.approx(-6.02, abs=0.01)
    wrong = evaluate(["misspelled"], speech, speech, 16000)
    assert set(wrong.values) == {"level"} and np.isnan(wrong.values["level"])
    assert wrong.errors["misspelled"] == "returned the columns ['levle'], but declares ['level']"


def test_disable_autoload_hides_third_party(tmp_path, monkeypatch):
    name = install_readme_codec(tmp_path, monkeypatch)
    monkeypatch.setenv(DISABLE_ENV, "1")
    CODECS.refresh()
    assert name not in codec_names() and "opus" in codec_names()


def test_duplicate_name_is_an_error(tmp_path, monkeypatch):
    install_readme_codec(tmp_path, monkeypatch, name="opus")
    with pytest.raises(RegistryError, match="registered twice"):
        codec_names()


def test_broken_plugin_reports_its_origin(tmp_path, monkeypatch):
    install_readme_codec(tmp_path, monkeypatch, name="broken", target="no_such_module:Nothing")
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


def test_dependencies_derive_the_check_the_hint_and_the_recorded_packages():
    from codecbench.codecs import Dependencies, get_codec_class
    from codecbench.metrics import get_metric_class

    declared = Dependencies(("json", "no_such_module_xyz"), extra="metrics", records=("Some_Package",))
    status = declared.check()
    assert not status.available and status.reason.startswith("no_such_module_xyz is not installed (")
    assert status.reason.endswith("; pip install 'codecbench[metrics]'")
    assert declared.missing() == ["no_such_module_xyz"] and declared.distributions() == ("some-package",)
    assert Dependencies(("pycodec2",), install="pycodec2").check().reason == ""
    then = Dependencies(("numpy",), extra="metrics", then=Dependencies(("no_such_module_xyz",), install="'x[y]'"))
    assert then.check().reason.endswith("; pip install 'x[y]'") and then.plus("json").modules == ("numpy", "json")
    # one declaration per plugin: the import name maps to the distribution whose version is recorded
    assert get_metric_class("visqol_exp").requires.distributions() == ("visqol-python",)
    assert get_codec_class("opus").requires.distributions() == ("opuslib-next-bundled",)
    assert "transformers" in get_codec_class("encodec16").requires.modules
