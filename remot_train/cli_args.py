"""Command-line options generated from the pydantic config models, so each option's name, default and help exist once.

``add_config_arguments(parser, Model)`` adds one flag per field (nested models are flattened; a field may name its
flag with ``json_schema_extra={"flag": "--max-side"}``) plus ``--config FILE``; ``config_from_args`` merges
defaults < ``--config`` YAML < flags and validates the result with the model, so an unknown key or a bad value is an
error naming it. Used by the ``remot`` CLI (``flows/cli.py``) and the ``python -m`` entry points of remot_train.
Imports argparse, pydantic and PyYAML only (no torch).
"""

from __future__ import annotations

import argparse
import inspect
import json
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

CONFIG_DEST = "config_file"
_DEST_PREFIX = "cfg:"
_NONE_WORD = "none"


def _extra(field: FieldInfo) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def iter_cli_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Yield ``(path, field)`` for every option of a model; nested models are flattened unless read from a file.

    A nested model field marked ``json_schema_extra={"cli_file": True}`` is one option naming a YAML file.
    """
    for name, field in model.model_fields.items():
        annotation = _unwrap_optional(field.annotation)
        if _is_model(annotation) and not _extra(field).get("cli_file"):
            yield from iter_cli_fields(annotation, (*prefix, name))
        else:
            yield (*prefix, name), field


def flag_of(path: Sequence[str], field: FieldInfo) -> str:
    """Return the flag of an option: the field's ``flag`` extra, else ``--`` + its name in kebab case."""
    return _extra(field).get("flag") or "--" + path[-1].replace("_", "-")


class _ExtendAction(argparse.Action):
    """Collect a sequence option: each occurrence may hold comma-separated values; ``none`` means empty."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        current = list(getattr(namespace, self.dest, None) or [])
        if values.strip().lower() == _NONE_WORD:
            setattr(namespace, self.dest, [])
            return
        setattr(namespace, self.dest, current + [v.strip() for v in values.split(",") if v.strip()])


def _parse_mapping(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(f"not a YAML/JSON mapping: {text!r}") from err


def _default_text(field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if default is None or isinstance(default, BaseModel):
        return ""
    if isinstance(default, tuple | list):
        return " (default: " + (",".join(str(v) for v in default) or _NONE_WORD) + ")"
    if isinstance(default, dict):
        return f" (default: {json.dumps(default)})"
    return f" (default: {default})"


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    model: type[BaseModel],
    *,
    config_file: bool = True,
    exclude: Sequence[str] = (),
) -> None:
    """Add one flag per option of ``model`` (help and default from the field), plus ``--config FILE``.

    Flags default to "not given", so a ``--config`` file's values are only overridden by flags the user typed.

    Raises:
        ValueError: If two options would get the same flag (a model bug).
    """
    if config_file:
        parser.add_argument(
            "--config",
            dest=CONFIG_DEST,
            default=None,
            metavar="FILE",
            help=f"YAML file of {model.__name__} fields; flags given here override it",
        )
    seen: dict[str, tuple[str, ...]] = {}
    for path, field in iter_cli_fields(model):
        if ".".join(path) in exclude or path[0] in exclude:
            continue
        flag = flag_of(path, field)
        if flag in seen:
            raise ValueError(f"{model.__name__}: options {seen[flag]} and {path} both want the flag {flag}")
        seen[flag] = path
        kwargs: dict[str, Any] = {
            "dest": _DEST_PREFIX + ".".join(path),
            "default": argparse.SUPPRESS,
            # argparse expands %-formats in help: a "98 %" in a description would break --help
            "help": ((field.description or "") + _default_text(field)).replace("%", "%%"),
        }
        annotation = _unwrap_optional(field.annotation)
        origin = get_origin(annotation)
        if _extra(field).get("cli_file"):
            kwargs["metavar"] = "FILE"
        elif annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            kwargs["choices"] = get_args(annotation)
        elif origin in (list, tuple):
            kwargs["action"] = _ExtendAction
            item = get_args(annotation)[0]
            if get_origin(item) is Literal:
                kwargs["metavar"] = "{" + ",".join(get_args(item)) + "}[,...]"
        elif origin is dict:
            kwargs["type"] = _parse_mapping
            kwargs["metavar"] = "YAML"
        elif annotation in (int, float):
            kwargs["type"] = annotation
        if "choices" not in kwargs and "metavar" not in kwargs and annotation is not bool:
            kwargs["metavar"] = path[-1].upper()
        parser.add_argument(flag, **kwargs)


def _set_path(data: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def read_config_file(path: str | Path, what: str) -> dict[str, Any]:
    """Return a YAML file holding a mapping (empty file: empty mapping).

    Raises:
        FileNotFoundError: If it does not exist.
        ValueError: Naming the file when it is not YAML or not a mapping.
    """
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: {what} not found") from err
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: {what} must be a mapping of field names to values, got a {type(doc).__name__}")
    return doc


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def config_from_args(model: type[BaseModel], args: argparse.Namespace, *, base: dict[str, Any] | None = None) -> Any:
    """Return the model validated from ``base`` < the ``--config`` file < the flags given.

    Raises:
        ConfigError: Naming the file or flag, the field and the bad value.
        FileNotFoundError: If a named file does not exist.
    """
    data = dict(base or {})
    config_path = getattr(args, CONFIG_DEST, None)
    if config_path:
        data = _merge(data, read_config_file(config_path, f"{model.__name__} file"))
    fields = dict(iter_cli_fields(model))
    flags = {}
    for dest, value in vars(args).items():
        if not dest.startswith(_DEST_PREFIX):
            continue
        path = tuple(dest[len(_DEST_PREFIX) :].split("."))
        flags[path] = flag_of(path, fields[path])
        if _extra(fields[path]).get("cli_file"):
            flags[path] = f"{flags[path]} {value}"  # errors inside the file name it
            value = read_config_file(value, f"{flag_of(path, fields[path])} file")
        _set_path(data, path, value)
    return validate_config(model, data, source=config_path, flags=flags)


class ConfigError(ValueError):
    """A config that does not validate; the message names the file or flag, the field and the value."""


def validate_config(
    model: type[BaseModel],
    data: dict[str, Any],
    *,
    source: str | None = None,
    flags: dict[tuple[str, ...], str] | None = None,
) -> Any:
    """Validate ``data`` with ``model``.

    Raises:
        ConfigError: One line per problem: where it came from (flag or file), the field, the message, the value.
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, model, source=source, flags=flags)) from err


def describe_validation_error(
    err: ValidationError,
    model: type[BaseModel],
    *,
    source: str | None = None,
    flags: dict[tuple[str, ...], str] | None = None,
) -> str:
    """Return a pydantic error as lines ``<flag or file>: <field>: <message>, got <value>``."""
    lines = []
    for problem in err.errors(include_url=False):
        loc = tuple(str(p) for p in problem["loc"])
        field = ".".join(loc) or "(config)"
        origin = next((flags[loc[:k]] for k in range(len(loc), 0, -1) if flags and loc[:k] in flags), None)
        where = origin or source or model.__name__
        got = "" if problem["type"] == "missing" else f", got {problem.get('input')!r}"
        lines.append(f"{where}: {field}: {problem['msg']}{got}")
    return f"invalid {model.__name__}:\n  " + "\n  ".join(lines)
