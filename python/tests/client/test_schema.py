"""The client's models and routes against the server's OpenAPI document: a field or a route
added, renamed or removed on either side fails here."""

from __future__ import annotations

from typing import Any

import pytest

from quantd.client import models as m
from quantd.client.routes import NOT_COVERED, ROUTES

#: Each client model and the schema of ``/v1/openapi.json`` it mirrors.
MODELS: dict[str, type] = {
    "SubmitRequest": m.SubmitRequest,
    "LookaheadRequest": m.LookaheadRequest,
    "RequestOptions": m.RequestOptions,
    "ExampleRequest": m.Example,
    "StrategyExprs": m.StrategyExprs,
    "SandboxRequest": m.SandboxLimits,
    "CodeBody": m.CodeBody,
    "Problem": m.Problem,
    "CodeDiagnostic": m.Diagnostic,
    "ExecutionView": m.ExecutionView,
    "ProgressView": m.ProgressView,
    "HealthView": m.HealthView,
    "Submitted": m.Submitted,
    "Executed": m.Executed,
    "PackView": m.PackView,
    "RightsView": m.RightsView,
    "UploadAccepted": m.UploadAccepted,
    "PackHealth": m.PackHealth,
    "CodeVersionView": m.CodeVersionView,
    "CodeAdded": m.CodeAdded,
    "CodeNameView": m.CodeNameView,
    "Validated": m.Validated,
    "Live": m.Live,
    "Ready": m.Ready,
    "ExecutionList": m.Page,
    "PackList": m.Page,
    "CodeList": m.Page,
}

#: Request models: what the server requires, the client requires too (and nothing more).
REQUESTS = {"SubmitRequest", "LookaheadRequest", "ExampleRequest", "StrategyExprs", "CodeBody"}


@pytest.fixture(scope="module")
def document(server) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with server.client() as client:
        return client.openapi()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    assert name in schemas, f"the server's document has no schema {name}"
    return schemas[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_fields_match_the_schema(document: dict[str, Any], name: str) -> None:
    s = schema(document, name)
    server = set(s.get("properties", {}))
    ours = set(m.json_fields(MODELS[name]))
    assert ours == server, (
        f"{MODELS[name].__name__} drifted from {name}: "
        f"missing in the client {sorted(server - ours)}, unknown to the server {sorted(ours - server)}"
    )


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_models_require_what_the_server_requires(document: dict[str, Any], name: str) -> None:
    required = set(schema(document, name).get("required", []))
    assert m.required_fields(MODELS[name]) == required


def test_submit_request_kinds_are_the_servers(document: dict[str, Any]) -> None:
    kind = schema(document, "SubmitRequest")["properties"]["kind"]
    if "$ref" in kind:
        kind = schema(document, kind["$ref"].rsplit("/", 1)[1])
    server = set(kind["enum"]) - {"import"}  # imports start from an upload
    assert set(m.Kind.__args__) == server  # type: ignore[attr-defined]


def test_execution_states_are_the_servers(document: dict[str, Any]) -> None:
    assert m.State.__args__ == tuple(schema(document, "ExecutionState")["enum"])  # type: ignore[attr-defined]
    assert schema(document, "ExecutionView")["properties"]["state"]["$ref"] == "#/components/schemas/ExecutionState"


def test_every_client_route_is_in_the_document(document: dict[str, Any]) -> None:
    paths = document["paths"]
    missing = [
        f"{r.method.upper()} {r.path} ({name})"
        for name, r in ROUTES.items()
        if r.method not in paths.get(r.path, {})
    ]
    assert not missing, f"the client calls routes the server does not serve: {missing}"


def test_every_route_of_the_document_is_covered(document: dict[str, Any]) -> None:
    ours = {(r.method, r.path) for r in ROUTES.values()}
    methods = {"get", "post", "put", "delete", "patch"}
    uncovered = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in methods and (method, path) not in ours and (method, path) not in NOT_COVERED
    ]
    assert not uncovered, f"routes of the API the client has no method for: {uncovered}"
