"""Optional-dependency gate: a clear ImportError naming the extra to install (like lerobot's require_package)."""

from __future__ import annotations

import importlib.util


def require_package(name: str, *, extra: str) -> None:
    """Raise ImportError unless ``name`` is importable, telling which remot extra provides it.

    Raises:
        ImportError: ``'torch' is required but not installed. Install it with: pip install 'remot[train]'``.
    """
    if importlib.util.find_spec(name) is None:
        raise ImportError(
            f"'{name}' is required but not installed. Install it with: pip install 'remot[{extra}]' "
            "(install torch==2.13.0 first on CPU machines)"
        )
