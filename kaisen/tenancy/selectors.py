"""Tenants looked up by their operator ID. What a tenant's account pages show is ``kaisen.account.selectors``."""

from __future__ import annotations

from kaisen.core.errors import NotFound
from kaisen.tenancy.models import Tenant


def tenant_get_by_public_id(*, public_id: str) -> Tenant:
    try:
        return Tenant.objects.get(public_id=public_id.strip().upper(), is_active=True)
    except Tenant.DoesNotExist as exc:
        raise NotFound() from exc
