"""Validate a triplet table with Great Expectations; the suite is built from ``schemas/triplets.yaml``.

Column checks (not null, allowed values, patterns, minimums, uniqueness) come from the contract file; row checks
that span columns (answer letters vs labels, labels vs measured values, window, images present) are computed as
boolean columns that the suite expects to be true. Great Expectations is imported lazily (it takes ~5 s).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from remot_data.errors import ContractError
from remot_data.rules.families import FAMILIES
from remot_data.rules.registry import RulePreset
from schemas import IMAGE_COLUMNS, load_columns, load_vocabulary, schema_version

logger = logging.getLogger(__name__)

VOCABULARY = load_vocabulary()
SCALAR_TYPES = ("string", "int32", "int64", "float64", "bool")
JPEG_MAGIC = b"\xff\xd8"
ROW_CHECKS = (
    "check_answer_matches_labels",
    "check_labels_match_values",
    "check_magnitude_in_window",
    "check_offers_no_change",
    "check_anchor_image",
    "check_positive_image",
    "check_negative_image",
)


@dataclass(frozen=True, kw_only=True)
class Violation:
    """One failed expectation.

    Attributes:
        column: Column (or row check) that failed.
        check: Great Expectations expectation type.
        triplet_ids: Ids of the offending rows (first 20).
        values: Offending values (first 5, as text).
    """

    column: str
    check: str
    triplet_ids: tuple[str, ...]
    values: tuple[str, ...]

    def __str__(self) -> str:
        """Return a one-line description naming column, check, rows and values."""
        return f"{self.column}: {self.check} failed for triplets {list(self.triplet_ids)} (values {list(self.values)})"


def _answer_matches_labels(row: dict[str, Any]) -> bool:
    answer, labels, options = row["answer"], row["labels"], row["options"]
    if answer is None or labels is None or options is None or not len(answer) == len(labels) == len(options):
        return False
    for letter, label, offered in zip(answer, labels, options, strict=True):
        offered = list(offered)
        letters = VOCABULARY.letters
        if letter not in letters[: len(offered)] or offered[letters.index(letter)] != label:
            return False
    return True


# An independent reading of labels from values, for the gate: it shares nothing with the renderer that wrote them
# (questions/render.py) but the facts both read: the contract's vocabulary (the words, and each attribute's axis and
# sign, taken here from the row's own attribute_names) and the family table's dead-bands and windows.


def _word(family: str, signs: dict[str, int]) -> str | None:
    words = [w for group in VOCABULARY.families[family]["directions"].values() for w in group]
    return next((w for w in words if VOCABULARY.directions[w] == signs), None)


def expected_labels(row: dict[str, Any], preset: RulePreset) -> list[str]:
    """Return the labels a row's values and the preset's dead-bands imply, read independently of the renderer.

    Raises:
        KeyError: For an attribute or family the gate does not know.
    """
    family, names = row["family"], list(row["attribute_names"])
    pairs = [row["values_12"], row["values_13"], row["values_23"]]
    no_change = VOCABULARY.no_change(family)
    dead_band = FAMILIES[family].dead_band_of(preset)
    labels: list[str] = []
    if FAMILIES[family].template == "camera":  # two questions (direction, angle) per attribute
        angle_label = VOCABULARY.families[family]["angle_label"]
        for values in pairs:
            for name, value in zip(names, values, strict=True):
                if abs(value) < dead_band:
                    labels += [no_change, no_change]
                    continue
                ((axis, sign),) = VOCABULARY.attributes[name].items()
                labels += [
                    _word(family, {axis: sign * int(np.sign(value))}),
                    angle_label.format(angle=int(abs(value) + 0.5)),
                ]
        return labels
    for values in pairs:
        if any(abs(v) < dead_band for v in values):
            labels.append(no_change)
            continue
        signs = {
            axis: sign * int(np.sign(v))
            for n, v in zip(names, values, strict=True)
            for axis, sign in VOCABULARY.attributes[n].items()
        }
        labels.append(_word(family, signs) or no_change)
    return labels


def _labels_match_values(row: dict[str, Any], preset: RulePreset) -> bool:
    try:
        return list(row["labels"] or []) == expected_labels(row, preset)
    except (TypeError, ValueError, IndexError, KeyError):
        return False


def _offers_no_change(row: dict[str, Any]) -> bool:
    family = VOCABULARY.families.get(row["family"])
    return family is not None and all(family["no_change"] in o for o in (row["options"] or [[]]))


def family_window(family: str, preset: RulePreset) -> tuple[float, float]:
    """Return the (min, max) window of a family's 1->2 and 1->3 magnitudes, in the attribute's units.

    Raises:
        KeyError: For a family the table does not hold, or one whose preset section the preset lacks.
    """
    return FAMILIES[family].window_of(preset)


def _magnitude_in_window(row: dict[str, Any], preset: RulePreset) -> bool:
    try:
        low, high = family_window(row["family"], preset)
        values_12 = [abs(float(v)) for v in row["values_12"]]
        values_13 = [abs(float(v)) for v in row["values_13"]]
        magnitude = float(row["magnitude"])
    except (TypeError, ValueError, KeyError):
        return False
    tolerance = 1e-9
    return (
        low <= magnitude <= high + tolerance
        and abs(magnitude - max(values_12)) < tolerance
        and max(values_13) <= high + tolerance
    )


def images_are_jpeg(column: pa.ChunkedArray) -> list[bool]:
    """Return, per row of an Image-struct column, whether it holds JPEG bytes (computed in Arrow: no byte copies)."""
    data = pc.struct_field(column, "bytes")
    return pc.fill_null(pc.equal(pc.binary_slice(data, 0, 2), pa.scalar(JPEG_MAGIC)), False).to_pylist()


def make_validation_frame(table: pa.Table, preset: RulePreset) -> pd.DataFrame:
    """Return the frame the suite runs on: the contract's scalar columns plus one boolean per row check."""
    # Image bytes stay in Arrow: a 50 K-triplet table holds gigabytes of JPEG that Python objects would copy.
    rows = table.drop_columns(list(IMAGE_COLUMNS)).to_pylist()  # for the row checks, then dropped
    scalar = [c.name for c in load_columns("triplets") if c.type in SCALAR_TYPES]
    # pyarrow shares one Python object between equal strings (prompts repeat): a large build's frame stays small
    frame = table.select(scalar).to_pandas(deduplicate_objects=True)
    frame["check_answer_matches_labels"] = [_answer_matches_labels(r) for r in rows]
    frame["check_labels_match_values"] = [_labels_match_values(r, preset) for r in rows]
    frame["check_magnitude_in_window"] = [_magnitude_in_window(r, preset) for r in rows]
    frame["check_offers_no_change"] = [_offers_no_change(r) for r in rows]
    for column in IMAGE_COLUMNS:
        frame[f"check_{column}"] = images_are_jpeg(table.column(column))
    return frame


def build_expectations(preset: RulePreset) -> list[Any]:
    """Return the Great Expectations expectations of the triplet contract (column checks + row checks)."""
    import great_expectations as gx

    expectations: list[Any] = []
    for col in load_columns("triplets"):
        if col.type not in SCALAR_TYPES:
            continue
        if not col.nullable:
            expectations.append(gx.expectations.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.allowed is not None:
            expectations.append(
                gx.expectations.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.allowed))
            )
        if col.pattern is not None:
            expectations.append(gx.expectations.ExpectColumnValuesToMatchRegex(column=col.name, regex=col.pattern))
        if col.minimum is not None:
            expectations.append(gx.expectations.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.minimum))
        if col.unique:
            expectations.append(gx.expectations.ExpectColumnValuesToBeUnique(column=col.name))
    expectations.append(gx.expectations.ExpectColumnValuesToBeInSet(column="preset", value_set=[preset.name]))
    expectations.append(
        gx.expectations.ExpectColumnValuesToBeInSet(column="preset_hash", value_set=[preset.short_hash])
    )
    for check in ROW_CHECKS:
        expectations.append(gx.expectations.ExpectColumnValuesToBeInSet(column=check, value_set=[True]))
    return expectations


def find_violations(table: pa.Table, preset: RulePreset) -> tuple[list[Violation], int]:
    """Run the suite on a triplet table.

    Args:
        table: A triplet table (contract columns).
        preset: The rule preset the rows claim; gives dead-band and window.

    Returns:
        ``(violations, number_of_expectations)``; no violations means the table is valid.
    """
    return validate_frame(make_validation_frame(table, preset), preset)


def validate_frame(frame: pd.DataFrame, preset: RulePreset) -> tuple[list[Violation], int]:
    """Run the suite on validation frames (``make_validation_frame``), e.g. those of a table's parts concatenated.

    Returns:
        ``(violations, number_of_expectations)``; no violations means the rows are valid.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    frame = frame.reset_index(drop=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("remot")
        .add_dataframe_asset("triplets")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"remot_triplets_v{schema_version('triplets')}"))
    expectations = build_expectations(preset)
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(gx.ValidationDefinition(data=batch, suite=suite, name="triplets"))
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="COMPLETE")
    violations = []
    for r in result.results:
        if r.success:
            continue
        column = r.expectation_config.kwargs.get("column", "")
        index = r.result.get("unexpected_index_list") or []
        ids = tuple(str(frame["triplet_id"].iloc[i]) for i in index[:20] if isinstance(i, int))
        values = tuple(str(v) for v in (r.result.get("unexpected_list") or [])[:5])
        violations.append(Violation(column=column, check=r.expectation_config.type, triplet_ids=ids, values=values))
    return violations, len(expectations)


def check_contract(table: pa.Table, preset: RulePreset) -> int:
    """Raise unless the triplet table passes the suite; return the number of expectations run.

    Raises:
        ContractError: Listing every violation (column, check, triplet ids, values).
    """
    violations, count = find_violations(table, preset)
    if violations:
        lines = "\n  ".join(str(v) for v in violations)
        raise ContractError(f"triplet table fails {len(violations)} of {count} expectations:\n  {lines}")
    return count
