"""Tenants: create one, with its operator ID (``OP`` + ten digits).

The tenant's own account pages (contract holder, SIM transfers, deletion) are ``kaisen.account``.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction

from kaisen.audit.services import audit_record
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.tenancy.models import Tenant, TenantKind


def tenant_generate_public_id() -> str:
    while True:
        candidate = "OP" + "".join(secrets.choice("0123456789") for _ in range(10))
        if not Tenant.objects.filter(public_id=candidate).exists():
            return candidate


@transaction.atomic
def tenant_create(
    *,
    legal_name: str,
    contract_code: str,
    contact_email: str,
    notification_email: str,
    kind: str = TenantKind.CORPORATE,
    public_id: str | None = None,
    coverage_japan: bool = True,
    coverage_global: bool = False,
    legal_name_kana: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    actor=None,
) -> Tenant:
    tenant = Tenant(
        public_id=public_id or tenant_generate_public_id(),
        legal_name=legal_name,
        legal_name_kana=legal_name_kana,
        contract_code=contract_code,
        kind=kind,
        coverage_japan=coverage_japan,
        coverage_global=coverage_global,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
        notification_email=notification_email,
    )
    try:
        tenant.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        code = ErrorCode.INVALID_OPERATOR_ID if field == "public_id" else ErrorCode.VALIDATION_ERROR
        raise DomainError(code, " ".join(messages), field=field) from exc
    tenant.save()
    audit_record(action="tenant.create", tenant=tenant, user=actor, target=tenant,
                 changes={"public_id": [None, tenant.public_id], "legal_name": [None, legal_name]})
    return tenant
