"""remot_data: the dataset library (sources, motion experts, contrast rules, questions, frames, Parquet, validation).

It never imports prefect, torch or anything under ``flows/`` or ``remot_train/``.
"""

__version__ = "0.1.0"
