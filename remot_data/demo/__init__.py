"""Deterministic demo corpus generators that write the real source formats."""
