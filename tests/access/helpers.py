"""Shared helpers of the permission tests (issue 5 §1, §6)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from kaisen.access import services as access
from kaisen.accounts.models import User
from kaisen.accounts.services import _issue
from kaisen.tenancy.models import Tenant
from tests.conftest import ApiClient, TenantWorld
from tests.factories import UserFactory


def member(world: TenantWorld, *roles: str, username: str | None = None, **kw: Any) -> User:
    """A limited user of ``world``'s tenant with these roles (built-in keys or custom role names)."""
    user = UserFactory(tenant=world.tenant, is_root=False, **({"username": username} if username else {}), **kw)
    if roles:
        access.user_roles_set(actor=world.user, user_id=user.pk, roles=list(roles))
    return User.objects.get(pk=user.pk)


def web(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user: User) -> ApiClient:
    """A bearer token as after a password login (no API key)."""
    return ApiClient(_issue(user, None).token, Client())


def fresh(user: User) -> User:
    return User.objects.select_related("tenant").get(pk=user.pk)


def tenant_of(world: TenantWorld) -> Tenant:
    return world.tenant
