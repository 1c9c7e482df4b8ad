"""Read the YAML files users hand to remot (build configs, rule presets, LeRobot mappings) with errors naming the file.

Parsing only: what a document means is checked by the pydantic model it is validated against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Return a YAML file that must hold a mapping (an empty file is an empty mapping).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the file (and line) when it is not YAML or not a mapping.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file: {err}") from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of keys to values, got a {type(doc).__name__}")
    return doc


def load_yaml_model(model: type[ModelT], path: Path, what: str, *, extra: dict[str, Any] | None = None) -> ModelT:
    """Validate a YAML file (plus ``extra`` keys the caller computes) with a pydantic model.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: One line per problem: the file, the field, what is wrong, the value found.
    """
    return validate_document(model, {**read_yaml_mapping(path), **(extra or {})}, source=str(path), what=what)


def validate_document(model: type[ModelT], document: dict[str, Any], *, source: str, what: str) -> ModelT:
    """Validate a parsed document with a pydantic model.

    Raises:
        ValueError: One line per problem: ``source``, the field, what is wrong, the value found.
    """
    try:
        return model.model_validate(document)
    except ValidationError as err:
        problems = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            + ("" if e["type"] == "missing" or not e["loc"] else f", got {e['input']!r}")
            for e in err.errors(include_url=False)
        ]
        raise ValueError(f"invalid {what}:\n  " + "\n  ".join(problems)) from err
