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
    """Return the scored record of one item (a missing prediction scores as an empty response).

    As the official scoring, a row's ``pred_answer`` is what is scored, as written; only a row without that field
    has its answer extracted from ``model_response``.
    """
    response = prediction.model_response if prediction else ""
    if prediction is not None and prediction.pred_answer is not None:
        pred = prediction.pred_answer
        parsed = has_answer_tag(response) if response else bool(pred.strip())
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


def score_predictions(items: list[ReferenceItem], controls: list[ReferenceItem], predictions: list[Prediction]) -> dict:
    """Return the metrics document: main items, plus each control kind that has predictions.

    Every prediction row counts, as in the official scoring: an id predicted twice (repeats of a sampled
    evaluation, or per-GPU files that overlap) is scored twice; an item without one counts as missing.

    Returns:
        ``aggregate(...)`` of the main items, with ``controls: {kind: aggregate}`` and ``items`` (per-item records).
    """
    by_id: dict[str, list[Prediction]] = {}
    for row in predictions:
        by_id.setdefault(row.id, []).append(row)

    def score_all(chosen: list[ReferenceItem]) -> list[dict]:
        return [score_one(item, row) for item in chosen for row in by_id.get(item.id) or [None]]

    scored = score_all(items)
    metrics = aggregate(scored)
    metrics["controls"] = {}
    kinds = sorted({c.id.split(CONTROL_SEP)[1] for c in controls})
    for kind in kinds:
        chosen = [c for c in controls if c.id.endswith(CONTROL_SEP + kind) and c.id in by_id]
        if chosen:
            metrics["controls"][kind] = aggregate(score_all(chosen))
    metrics["items"] = scored
    return metrics
