"""Flags generated from the config models: one name, default and help per option; errors name flag, field, value."""

import argparse
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from remot_data.pipeline import BuildConfig
from remot_train.cli_args import ConfigError, add_config_arguments, config_from_args, iter_cli_fields


class Inner(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    size_px: int = Field(8, ge=1, description="a size", json_schema_extra={"flag": "--size"})


class Demo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    inner: Inner = Field(default_factory=Inner)
    mode: Literal["a", "b"] = Field("a", description="a mode")
    kinds: tuple[Literal["x", "y"], ...] = Field(("x", "y"), description="kinds")
    on: bool = Field(True, description="a switch")
    weights: dict[str, float] = Field(default_factory=dict, description="weights")


def _parse(model, argv):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, model)
    return config_from_args(model, parser.parse_args(argv))


def test_defaults_come_from_the_model_alone():
    assert _parse(Demo, []) == Demo()
    assert _parse(BuildConfig, []) == BuildConfig()


def test_flags_cover_nested_fields_lists_bools_and_mappings():
    config = _parse(Demo, ["--size", "3", "--mode", "b", "--kinds", "y", "--no-on", "--weights", "{a: 1.5}"])
    assert config == Demo(inner=Inner(size_px=3), mode="b", kinds=("y",), on=False, weights={"a": 1.5})
    assert _parse(Demo, ["--kinds", "x,y", "--kinds", "x"]).kinds == ("x", "y", "x")
    assert _parse(Demo, ["--kinds", "none"]).kinds == ()


def test_public_build_flags_keep_their_names():
    flags = set()
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, BuildConfig)
    for action in parser._actions:
        flags.update(action.option_strings)
    assert {"--max-side", "--jpeg-quality", "--ffmpeg", "--preset", "--batch-size", "--seed"} <= flags
    assert {"--on-bad-clip", "--license", "--config"} <= flags
    # one flag per field: every option of the model is reachable
    assert len([p for p, _ in iter_cli_fields(BuildConfig)]) == len(flags - {"-h", "--help", "--config"})


def test_config_file_is_overridden_by_flags_and_validated(tmp_path):
    file = tmp_path / "build.yaml"
    file.write_text("seed: 3\nframes: {max_side_px: 96, jpeg_quality: 70}\n")
    config = _parse(BuildConfig, ["--config", str(file), "--max-side", "128"])
    assert (config.seed, config.frames.max_side_px, config.frames.jpeg_quality) == (3, 128, 70)
    file.write_text("seed: 3\nframes: {max_side: 96}\n")  # a typo'd key
    with pytest.raises(ConfigError, match=r"build\.yaml: frames\.max_side: Extra inputs are not permitted, got 96"):
        _parse(BuildConfig, ["--config", str(file)])


def test_bad_flag_value_names_the_flag_field_and_value():
    with pytest.raises(ConfigError, match=r"--max-side: frames\.max_side_px: .*less than or equal to 4096, got 5000"):
        _parse(BuildConfig, ["--max-side", "5000"])
    with pytest.raises(ConfigError, match=r"BuildConfig: \(config\): Value error, val_fraction \+ test_fraction"):
        _parse(BuildConfig, ["--val-fraction", "0.5", "--test-fraction", "0.6"])


def test_two_options_with_one_flag_are_refused():
    class Clash(BaseModel):
        a: int = Field(1, json_schema_extra={"flag": "--x"})
        b: int = Field(2, json_schema_extra={"flag": "--x"})

    with pytest.raises(ValueError, match="both want the flag --x"):
        add_config_arguments(argparse.ArgumentParser(), Clash)
