"""The maintenance answer in the OpenAPI document (issue 15 §1).

While a maintenance window closes what a request calls, every API operation can answer ``503`` with the
domain error code ``MAINTENANCE``, a ``Retry-After`` header (seconds) and ``details`` saying when the function
is back: the middleware refuses any path under ``/api/`` for a window closing the whole portal or the API
(``kaisen.controls.web``), the bearer authentication does the same for a window of the caller's tenant only,
and the procedure services refuse a closed procedure kind. ``kaisen.api.KaisenAPI`` adds
:func:`maintenance_response` to every operation and :func:`maintenance_schemas` to the components.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

SCHEMA_NAME = "MaintenanceErrorOut"


class MaintenanceDetails(Schema):
    window_id: int = Field(description="The maintenance window.")
    until: dt.datetime = Field(description="When the function is open again (Japan time, with its offset).")
    retry_after: int = Field(ge=1, description="Seconds until then (the same as the `Retry-After` header).")


class MaintenanceErrorOut(Schema):
    """The answer while a maintenance window closes the function called."""

    code: Literal["MAINTENANCE"]
    message: str = Field(description="Says what is closed and until when, in the language of the request.")
    field: str | None = None
    details: MaintenanceDetails


def maintenance_schemas() -> dict[str, Any]:
    """``MaintenanceErrorOut`` and the schema it refers to, for ``components.schemas``."""
    body = MaintenanceErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = body.pop("$defs", {})
    return {SCHEMA_NAME: body, **nested}


def maintenance_response() -> dict[str, Any]:
    """The documented ``503`` of an operation."""
    return {
        "description": "Closed for maintenance: a maintenance window closes this function now. Try again after "
                       "`Retry-After` seconds (`details.until` says when).",
        "headers": {
            "Retry-After": {"description": "Seconds until the function is open again.", "required": True,
                            "schema": {"type": "integer", "minimum": 1}},
            "Kaisen-Maintenance": {"description": "The window: `id=…; start=…; end=…; functions=…`.",
                                   "schema": {"type": "string"}},
        },
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}}},
    }
