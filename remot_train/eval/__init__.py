"""Benchmark evaluation: official ReMoT metrics, loaders for references and predictions, reports, model runs."""
