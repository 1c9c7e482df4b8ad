import pyarrow as pa
import pytest

from remot_data.errors import ContractError
from remot_data.pipeline.config import BuildConfig
from remot_data.rules.registry import load_rule_preset
from remot_data.table import cast_to_contract, read_triplets
from remot_data.validation import check_contract, find_violations

PRESET = load_rule_preset(BuildConfig().preset)  # what built_dataset was built with (the default)


@pytest.fixture(scope="module")
def table(built_dataset):
    return read_triplets(built_dataset)


def _replace(table: pa.Table, column: str, row: int, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    return table.set_column(
        table.schema.get_field_index(column), column, pa.array(values, type=table.schema.field(column).type)
    )


def _failed(table):
    violations, _ = find_violations(table, PRESET)
    return {(v.column, v.check): v for v in violations}


def test_built_table_passes(table):
    assert check_contract(table, PRESET) > 30


def test_wrong_label_is_caught(table):
    labels = table.column("labels")[0].as_py()
    flipped = {"Left": "Right", "Right": "Left", "Up": "Down", "Down": "Up", "No rotation": "Left"}[labels[0]]
    bad = _replace(table, "labels", 0, [flipped] + labels[1:])
    failed = _failed(bad)
    key = ("check_labels_match_values", "expect_column_values_to_be_in_set")
    assert key in failed and failed[key].triplet_ids == (table.column("triplet_id")[0].as_py(),)
    assert ("check_answer_matches_labels", "expect_column_values_to_be_in_set") in failed


def test_answer_letter_not_matching_options_is_caught(table):
    answer = table.column("answer")[1].as_py()
    other = "A" if answer[0] != "A" else "B"
    failed = _failed(_replace(table, "answer", 1, other + answer[1:]))
    assert ("check_answer_matches_labels", "expect_column_values_to_be_in_set") in failed
    assert ("check_labels_match_values", "expect_column_values_to_be_in_set") not in failed


def test_missing_image_is_caught(table):
    failed = _failed(_replace(table, "negative_image", 2, {"bytes": None, "path": "x.jpg"}))
    assert failed[("check_negative_image", "expect_column_values_to_be_in_set")].triplet_ids == (
        table.column("triplet_id")[2].as_py(),
    )


def test_out_of_window_angle_is_caught(table):
    values = table.column("values_12")[3].as_py()
    k = 0 if abs(values[0]) >= abs(values[1]) else 1
    values[k] = 45.0
    bad = _replace(_replace(table, "values_12", 3, values), "magnitude", 3, 45.0)
    assert ("check_magnitude_in_window", "expect_column_values_to_be_in_set") in _failed(bad)


@pytest.mark.parametrize(
    "column, value, check",
    [
        ("split", "holdout", "expect_column_values_to_be_in_set"),
        ("answer", "AB1", "expect_column_values_to_match_regex"),
        ("margin", -0.5, "expect_column_values_to_be_between"),
        ("preset_hash", "0123456789ab", "expect_column_values_to_be_in_set"),
    ],
)
def test_contract_column_checks(table, column, value, check):
    assert (column, check) in _failed(_replace(table, column, 0, value))


def test_duplicate_triplet_id_is_caught(table):
    bad = _replace(table, "triplet_id", 1, table.column("triplet_id")[0].as_py())
    assert ("triplet_id", "expect_column_values_to_be_unique") in _failed(bad)


def test_check_contract_raises_naming_column_and_row(table):
    bad = _replace(table, "split", 0, "holdout")
    with pytest.raises(
        ContractError, match=r"split: expect_column_values_to_be_in_set failed for triplets \['[0-9a-f]{16}'\]"
    ):
        check_contract(bad, PRESET)


def test_cast_to_contract_names_missing_columns(table):
    with pytest.raises(ContractError, match=r"missing columns \['margin'\]"):
        cast_to_contract(table.drop(["margin"]), "triplets")
    with pytest.raises(ContractError, match="column 'prompt' has 1 nulls"):
        cast_to_contract(_replace(table, "prompt", 0, None), "triplets")


@pytest.mark.parametrize(
    "family, names",
    [
        ("camera_rotation", ("pan_right_deg", "tilt_up_deg")),
        ("move_lr", ("left_m",)),
        ("lift_lower", ("up_m",)),
        ("move_complex", ("left_m", "up_m")),
        ("grab_release", ("gripper_closing",)),
        ("object_count", ("count_change",)),
        ("object_move_lr", ("right_frac",)),
        ("object_speed", ("log_speed_ratio",)),
        ("ego_turn", ("turn_right_deg",)),
        ("ego_forward", ("forward_m",)),
        ("ego_speed", ("log_speed_ratio",)),
    ],
)
def test_the_gate_reads_labels_independently_and_agrees_with_the_renderer(family, names):
    # The gate's reading (validation.expected_labels) shares no code with the renderer's (render.family_labels):
    # agreement on many random values, dead-bands and rounding edges included, is a real check of both.
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from remot_data.questions.render import family_labels
    from remot_data.validation import expected_labels

    scale = {"camera_rotation": 40.0, "object_count": 4.0, "ego_turn": 40.0, "ego_forward": 20.0}.get(family, 0.5)
    edges = [0.0, 2.0, -2.0, 12.5, -12.5, 0.015, -0.015, 0.1, -0.1, 0.5, -0.5, 1.0, -1.0, 0.02, -0.02, 0.1398, -0.1398]
    value = st.floats(-scale, scale, allow_nan=False) | st.sampled_from(edges)
    pair = st.tuples(*[value] * len(names))

    @settings(max_examples=300, derandomize=True, deadline=None)
    @given(pairs=st.tuples(pair, pair, pair))
    def check(pairs):
        row = {
            "family": family,
            "attribute_names": list(names),
            **dict(zip(("values_12", "values_13", "values_23"), pairs, strict=True)),
        }
        assert expected_labels(row, PRESET) == family_labels(family, pairs, PRESET)

    check()
