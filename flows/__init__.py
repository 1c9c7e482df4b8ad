"""Prefect flows and the remot CLI: the only package that imports prefect."""
