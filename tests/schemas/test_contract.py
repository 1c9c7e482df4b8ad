import json
import subprocess
import sys

import pyarrow as pa
import pytest

from schemas import HF_IMAGE_TYPE, load_columns, load_schema, parse_type


def test_triplet_schema_has_hf_image_columns_and_metadata():
    schema = load_schema("triplets")
    for name in ("anchor_image", "positive_image", "negative_image"):
        assert schema.field(name).type == HF_IMAGE_TYPE
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    assert features["anchor_image"] == {"_type": "Image"}
    assert features["options"] == {
        "_type": "List",
        "feature": {"_type": "List", "feature": {"_type": "Value", "dtype": "string"}},
    }
    assert json.loads(schema.metadata[b"remot"])["schema_version"] == 1


def test_every_column_is_documented_and_typed():
    for name in ("triplets", "rejects"):
        for col in load_columns(name):
            assert col.meaning.strip(), col.name
            assert isinstance(parse_type(col.type), pa.DataType)


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unknown contract type 'float16'"):
        parse_type("float16")


def test_schemas_loader_imports_only_pyarrow_and_stdlib():
    code = "import sys, schemas; schemas.load_schema('triplets'); print(sorted(m.split('.')[0] for m in sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("'pandas'", "'remot_data'", "'yaml'"):
        assert heavy not in modules


def test_every_closed_choice_in_code_is_the_contracts():
    from typing import get_args

    from remot_data import records
    from remot_data.pipeline import ReaderName
    from remot_train.config import SplitName as TrainSplit
    from schemas import allowed_values

    assert get_args(records.SourceName) == allowed_values("triplets", "source")
    assert get_args(records.RuleName) == allowed_values("triplets", "rule")
    assert get_args(records.FamilyName) == allowed_values("triplets", "family")
    assert get_args(records.NegativeMethod) == allowed_values("triplets", "negative_method")
    assert get_args(records.SplitName) == get_args(TrainSplit) == allowed_values("triplets", "split")
    assert get_args(records.RejectStage) == allowed_values("rejects", "stage")
    assert set(get_args(ReaderName)) <= set(allowed_values("triplets", "source"))


def test_vocabulary_matches_the_columns_and_is_closed_under_opposites():
    import re

    from schemas import load_columns, load_vocabulary

    vocab = load_vocabulary()
    columns = {c.name: c for c in load_columns("triplets")}
    assert set(vocab.families) == set(columns["family"].allowed)
    assert re.fullmatch(columns["answer"].pattern, vocab.letters)
    assert not re.fullmatch(columns["answer"].pattern, chr(ord(vocab.letters[-1]) + 1))
    for word, signs in vocab.directions.items():
        assert set(signs) <= set(vocab.axes) and set(signs.values()) <= {-1, 1}, word
        assert vocab.opposite(vocab.opposite(word)) == word != vocab.opposite(word)
    for family, spec in vocab.families.items():
        assert spec["no_change"] in vocab.no_change_labels, family
        for words in spec["directions"].values():
            assert set(words) <= set(vocab.directions), family
            assert {vocab.opposite(w) for w in words} == set(words), family  # every option's opposite is offered


def test_consumers_read_only_contract_columns():
    from remot_train.data import KEEP_COLUMNS
    from schemas import IMAGE_COLUMNS, load_columns

    names = {c.name for c in load_columns("triplets")}
    assert set(KEEP_COLUMNS) <= names
    assert IMAGE_COLUMNS == ("anchor_image", "positive_image", "negative_image")


def test_card_features_and_parquet_features_are_one_mapping():
    from schemas import hf_card_feature, hf_feature

    def card_from_parquet(feature):
        if feature["_type"] == "List":
            return {"list": card_from_parquet(feature["feature"])}
        return "image" if feature["_type"] == "Image" else feature["dtype"]

    for col in load_columns("triplets"):
        card = hf_card_feature(col.name, col.type)
        value = card.get("dtype", card.get("list"))
        expected = card_from_parquet(hf_feature(col.type))
        assert (value if "dtype" in card else {"list": value}) == expected, col.name


def test_layout_ids_round_trip_and_hidden_siblings(tmp_path):
    from schemas import load_layout

    layout = load_layout()
    assert layout.parse_item_id(layout.make_item_id("val", "0123456789abcdef")) == ("val", "0123456789abcdef")
    assert layout.parse_item_id("remot_val_0123") is None
    assert layout.hidden_sibling(tmp_path / "ds", "tmp", "ab12") == tmp_path / ".ds.tmp-ab12"
    with pytest.raises(ValueError, match="hidden sibling kind must be one of"):
        layout.hidden_sibling(tmp_path / "ds", "backup")


def test_published_manifest_fits_its_schema(built_dataset):
    import jsonschema

    from remot_data.errors import ContractError
    from remot_data.pipeline.publish import check_manifest
    from schemas import load_manifest_schema

    manifest = json.loads((built_dataset / "latest" / "manifest.json").read_text())
    jsonschema.validate(manifest, load_manifest_schema())
    broken = {**manifest, "counts": {**manifest["counts"], "triplets": "many"}}
    with pytest.raises(ContractError, match="counts/triplets"):
        check_manifest(broken)
    with pytest.raises(ContractError, match="'preset' is a required property"):
        check_manifest({k: v for k, v in manifest.items() if k != "preset"})


def test_manifest_config_is_the_build_config(built_dataset):
    from remot_data.pipeline import BuildConfig

    manifest = json.loads((built_dataset / "latest" / "manifest.json").read_text())
    assert BuildConfig.model_validate(manifest["config"]).model_dump(mode="json") == manifest["config"]
