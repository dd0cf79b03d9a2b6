"""API schemas every router shares. One class per name: the OpenAPI document keys its components by class
name, so two ``ErrorOut`` classes (or two ``MeOut``) would document one under the other's name (issue 14 c;
tests/test_api_schema_names.py)."""

from __future__ import annotations

from ninja import Schema


class ErrorOut(Schema):
    """What every 4xx answers (kaisen.core.errors.DomainError.as_dict; 422 adds ``errors``)."""

    code: str
    message: str
    field: str | None = None
    details: dict | None = None
