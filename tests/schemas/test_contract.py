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
