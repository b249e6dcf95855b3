"""The OpenAPI description: every API operation is tagged and summarised, documents the error shape, and every list
is the cursor page {items, total, next_cursor}."""

from __future__ import annotations

# Operations answering files or hand-built JSON without a response model (complaints and media reports keep their
# own {"field", "message"} contract, docs/complaints.md; 专报 / 日报 / 周报 may be a .docx or .pdf).
NO_RESPONSE_MODEL = ("/api/v1/complaints", "/api/v1/media-reports", "/api/v1/reports/")
METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(schema: dict) -> str:
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def test_every_operation_is_tagged_summarised_and_documents_the_error_shape(client):
    spec = client.get("/openapi.json").json()
    problems = []
    operations = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in METHODS:
                continue
            operations += 1
            where = f"{method.upper()} {path}"
            if not op.get("tags") or not op.get("summary"):
                problems.append(f"{where}: no tag or summary")
            if path.startswith("/api/v1/"):
                for code in ("401", "403", "422"):
                    schema = op["responses"].get(code, {}).get("content", {}).get("application/json", {})
                    if _ref_name(schema.get("schema", {})) != "ErrorRead":
                        problems.append(f"{where}: {code} does not document ErrorRead")
            ok = next((op["responses"][c] for c in ("200", "201") if c in op["responses"]), None)
            schema = (ok or {}).get("content", {}).get("application/json", {}).get("schema", {})
            if not schema and not path.startswith(NO_RESPONSE_MODEL):
                problems.append(f"{where}: no response model")
    assert operations >= 60 and not problems, "\n".join(problems)
    error = spec["components"]["schemas"]["ErrorRead"]
    assert error.get("examples"), "the error shape carries examples"


def test_every_list_is_a_cursor_page(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    lists = []
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if not op or "{" in path.rsplit("/", 1)[-1] or path.startswith(NO_RESPONSE_MODEL):
            continue
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        properties = schemas.get(_ref_name(schema), {}).get("properties", {})
        if "items" in properties or any(k in properties for k in ("data", "count")):
            lists.append(path)
            assert {"items", "total", "next_cursor"} <= set(properties) and "data" not in properties, path
            names = {p["name"] for p in op.get("parameters", [])}
            assert {"cursor", "limit"} <= names, path
    assert len(lists) >= 15, lists


def test_every_example_in_the_description_is_a_valid_body_of_its_model():
    import inspect

    from pydantic import BaseModel

    from api import examples, schemas
    from api.routers import audit, receipts

    checked = 0
    models = [(name, model) for module in (schemas, audit, receipts)
              for name, model in inspect.getmembers(module, inspect.isclass) if model.__module__ == module.__name__]
    for name, model in models:
        if not issubclass(model, BaseModel):
            continue
        for example in model.model_json_schema().get("examples", []):
            model.model_validate(example)  # raises on a field the model lacks or a missing one
            assert set(example) <= set(model.model_fields), f"{name}: example has fields the model lacks"
            checked += 1
    assert checked >= len(examples.EXAMPLES) + 9  # the read models plus the request bodies and the error shape
