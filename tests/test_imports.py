"""Layering: the data pipeline imports neither torch nor prefect; remot_train never imports remot_data."""

import subprocess
import sys

import pytest

DATA_MODULES = ["remot_data.pipeline", "remot_data.export", "remot_data.validation", "remot_data.demo.scannet"]


@pytest.mark.parametrize("module", DATA_MODULES)
def test_data_pipeline_imports_without_torch_or_prefect(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "torch" not in loaded
    assert "prefect" not in loaded
    assert "great_expectations" not in loaded  # imported lazily, only where validation runs


TRAIN_MODULES = ["remot_train.train", "remot_train.eval.evaluate", "remot_train.rewards", "remot_train.data"]


@pytest.mark.parametrize("module", TRAIN_MODULES)
def test_remot_train_never_imports_remot_data_or_prefect(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not any(m == "remot_data" or m.startswith("remot_data.") for m in loaded)
    assert "prefect" not in loaded


def test_scoring_needs_no_torch():
    code = "import sys, remot_train.eval.evaluate, remot_train.eval.scoring; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "torch" not in loaded


def test_the_remot_cli_parser_needs_no_training_stack():
    # `make demo` installs the data pipeline only: the whole `remot` parser (train/eval flags included) must build
    code = "import sys, flows.cli; flows.cli.make_parser(); print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not loaded & {"torch", "transformers", "trl", "datasets"}
