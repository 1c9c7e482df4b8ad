"""remot_data: the dataset library (sources, motion experts, contrast rules, questions, frames, Parquet, validation).

It never imports prefect, torch or anything under ``flows/`` or ``remot_train/``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("remot")  # one place: pyproject.toml
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"
