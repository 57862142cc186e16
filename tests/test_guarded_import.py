"""`guarded_import.import_beside`: a metric package imports although a library it never calls cannot be imported
here; the placeholder is seen by that import only, and says why if it is ever called."""

import importlib.util
import sys

import pytest

from codecbench.metrics.guarded_import import broken_modules, import_beside


def test_warpq_imports_beside_a_broken_pyvad_which_nobody_else_sees():
    if importlib.util.find_spec("warpq") is None:
        pytest.skip("warpq is not installed: pip install 'codecbench[metrics]'")
    broken = broken_modules("pyvad")
    if not broken:
        pytest.skip("pyvad imports here (numpy < 2 and setuptools < 81): nothing to stand in for")
    core = import_beside("warpq.core", ("pyvad",))
    assert "pyvad" not in sys.modules and hasattr(core, "warpqMetric")
    with pytest.raises(ImportError, match=r"pyvad\.vad is not available"):
        core.vad(None, 16000)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("pyvad")  # still the real, failing import for everyone else
