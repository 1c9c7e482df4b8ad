"""Layering: the data pipeline imports neither torch nor prefect; remot_train never imports remot_data."""

import subprocess
import sys

import pytest

DATA_MODULES = ["remot_data.build", "remot_data.export", "remot_data.validation", "remot_data.demo.scannet"]


@pytest.mark.parametrize("module", DATA_MODULES)
def test_data_pipeline_imports_without_torch_or_prefect(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "torch" not in loaded
    assert "prefect" not in loaded
    assert "great_expectations" not in loaded  # imported lazily, only where validation runs
