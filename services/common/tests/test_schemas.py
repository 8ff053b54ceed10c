from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from wirewatch_common.schemas import render_schemas

pytestmark = pytest.mark.unit

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "deploy" / "schemas"


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_checked_in_schema_matches_the_model(name):
    checked_in = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert checked_in == render_schemas()[name], (
        f"deploy/schemas/{name} is stale: run `make schemas` and commit the result"
    )


def test_published_schema_accepts_a_story_and_rejects_a_broken_one(make_story):
    schema = json.loads((SCHEMA_DIR / "story.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    doc = json.loads(make_story(urgency=2).to_json())
    validator.validate(doc)
    broken = doc | {"urgency": 12}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    without_id = {k: v for k, v in doc.items() if k != "id"}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(without_id)
