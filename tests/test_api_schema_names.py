"""Every Schema class the API uses has its own name in the OpenAPI document (issue 14 c).

Components are keyed by class name: two classes of one name (``MeOut`` in accounts and in access, ...) made
the document describe one endpoint with the other's fields (``GET /api/v1/me`` showed fields it does not
return). This walks every input and response model of every operation, down through its fields."""

from __future__ import annotations

import typing
from collections import defaultdict
from typing import Any

from ninja import Schema
from pydantic import BaseModel

from kaisen.api import api


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def api_schema_classes() -> dict[str, set[type[BaseModel]]]:
    roots: list[type[BaseModel]] = []
    for _prefix, router in api._routers:
        for view in router.path_operations.values():
            for operation in view.operations:
                roots += [m for m in operation.response_models.values() if m is not None]
                roots += list(operation.models)
    seen: set[type[BaseModel]] = set()
    by_name: dict[str, set[type[BaseModel]]] = defaultdict(set)
    while roots:
        model = roots.pop()
        if model in seen:
            continue
        seen.add(model)
        if issubclass(model, Schema) and model.__module__.startswith("kaisen."):
            by_name[model.__name__].add(model)
        for field in model.model_fields.values():
            roots += _models_in(field.annotation)
    return by_name


def test_no_two_api_schema_classes_share_a_name() -> None:
    by_name = api_schema_classes()
    shared = {name: sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)
              for name, classes in by_name.items() if len(classes) > 1}
    assert shared == {}
    # The walk reaches the models of nested fields and every router: these are in the document too.
    components = api.get_openapi_schema(path_prefix="/api/v1")["components"]["schemas"]
    for name in ("MeOut", "AccessMeOut", "StatementIO", "TagOut", "LineCallOut", "AccountNumberOut"):
        assert name in by_name and name in components


def test_me_is_documented_with_what_it_returns(tenant_a: Any) -> None:
    doc = api.get_openapi_schema(path_prefix="/api/v1")
    ref = doc["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    documented = set(doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])
    returned = set(tenant_a.api().get("/api/v1/me").json())
    assert documented == returned
