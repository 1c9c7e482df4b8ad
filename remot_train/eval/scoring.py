"""Score predictions against reference items: per item, then aggregated (metrics.aggregate), controls apart."""

from __future__ import annotations

from remot_train.eval.controls import CONTROL_SEP
from remot_train.eval.loaders import Prediction, ReferenceItem
from remot_train.eval.metrics import (
    aggregate,
    camera_group_matches,
    extract_answer,
    has_answer_tag,
    response_words,
    score_item,
)
from remot_train.labels import composition_consistent, letters_to_labels, pair_signs


def score_one(item: ReferenceItem, prediction: Prediction | None) -> dict:
    """Return the scored record of one item (a missing prediction scores as an empty response)."""
    response = prediction.model_response if prediction else ""
    if prediction and not response:
        pred = prediction.pred_answer.strip().upper()  # a file from other tooling: trust its extraction
        parsed = bool(pred)
    else:
        pred = extract_answer(response)
        parsed = has_answer_tag(response)
    record = {
        "id": item.id,
        "task": item.task,
        "family": item.family,
        "pred": pred,
        "gt": item.gt_answer,
        **score_item(item.family, pred, item.gt_answer),
        "parsed": parsed,
        "missing": prediction is None,
        "words": prediction.response_words if prediction else 0,
    }
    if not record["words"] and response:
        record["words"] = response_words(response)
    if item.family == "camera_rotation":
        record["groups"] = camera_group_matches(pred, item.gt_answer)
    labels = letters_to_labels(pred, item.options) if item.options else None
    signs = pair_signs(labels, item.options) if labels else None
    record["consistent"] = composition_consistent(signs) if signs else None
    return record


def score_predictions(
    items: list[ReferenceItem], controls: list[ReferenceItem], predictions: dict[str, Prediction]
) -> dict:
    """Return the metrics document: main items, plus each control kind that has predictions.

    Returns:
        ``aggregate(...)`` of the main items, with ``controls: {kind: aggregate}`` and ``items`` (per-item records).
    """
    scored = [score_one(item, predictions.get(item.id)) for item in items]
    metrics = aggregate(scored)
    metrics["controls"] = {}
    kinds = sorted({c.id.split(CONTROL_SEP)[1] for c in controls})
    for kind in kinds:
        chosen = [c for c in controls if c.id.endswith(CONTROL_SEP + kind) and c.id in predictions]
        if chosen:
            metrics["controls"][kind] = aggregate([score_one(c, predictions[c.id]) for c in chosen])
    metrics["items"] = scored
    return metrics
