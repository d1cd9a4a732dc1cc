"""The runbooks' OpenAPI document (ops.runbooks.openapi).

Cases: the copy checked into docs/ is the one the code generates (regenerate with
``python -m ops.runbooks.openapi > docs/openapi.json``); it is OpenAPI 3.1 that
schemathesis loads; every runbook has a GET (plan, its parameters as query
parameters, required ones required) and a POST (body with params, planDigest and
reason; 200, 202 with Location, 409); every parameter schema is the one pydantic
generates from the model that validates requests.
"""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis

from ops.runbooks.catalog import all_runbooks
from ops.runbooks.openapi import openapi_document, openapi_text

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_checked_in_document_is_current() -> None:
    assert DOCS.read_text() == openapi_text(), (
        "regenerate: python -m ops.runbooks.openapi > docs/openapi.json"
    )


def test_schemathesis_loads_it_as_openapi_3_1() -> None:
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())}
    assert "GET /runbooks" in operations and "GET /runbooks/runs/{id}" in operations
    for name in all_runbooks():
        assert {f"GET /runbooks/{name}", f"POST /runbooks/{name}"} <= operations


def test_every_runbook_documents_its_parameters_and_answers() -> None:
    document = json.loads(openapi_text())
    schemas = document["components"]["schemas"]
    for name, runbook in all_runbooks().items():
        path = document["paths"][f"/runbooks/{name}"]
        model = runbook.params.model_json_schema()
        query = {p["name"]: p["required"] for p in path["get"]["parameters"]}
        assert query == {field: field in model.get("required", []) for field in model["properties"]}
        post = path["post"]
        assert {"200", "202", "400", "401", "403", "409", "422"} <= set(post["responses"])
        assert "Location" in post["responses"]["202"]["headers"]
        body = schemas[post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        assert set(body["properties"]) == {"params", "planDigest", "reason"}
        params = schemas[body["properties"]["params"]["$ref"].rsplit("/", 1)[1]]
        assert params["properties"] == model["properties"]
