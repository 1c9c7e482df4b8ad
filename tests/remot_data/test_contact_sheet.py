"""The contact sheet shows every family from every source, then every kind within them."""

import pyarrow as pa

from remot_data.contact_sheet import pick_examples


def test_every_family_and_source_shows_up_first():
    rows = []
    for family, source, n in (
        ("object_count", "motchallenge", 30),
        ("object_count", "nuscenes", 2),
        ("ego_turn", "nuscenes", 5),
    ):
        for i in range(n):
            rows.append(
                {
                    "triplet_id": f"{family}-{source}-{i:03d}",
                    "family": family,
                    "source": source,
                    "negative_method": "retrieval",
                    "mirrored": i % 2 == 1,
                }
            )
    table = pa.Table.from_pylist(rows)
    picked = table.take(pick_examples(table, 3)).to_pylist()
    assert {(r["family"], r["source"]) for r in picked} == {
        ("object_count", "motchallenge"),
        ("object_count", "nuscenes"),
        ("ego_turn", "nuscenes"),
    }
    more = table.take(pick_examples(table, 6)).to_pylist()
    assert {(r["family"], r["mirrored"]) for r in more} >= {("object_count", True), ("object_count", False)}
    assert len(pick_examples(table, 1)) == 3  # never fewer than one per family and source
