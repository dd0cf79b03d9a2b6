from __future__ import annotations

from django.db.models import QuerySet

from kaisen.accounts.models import ApiKey, User


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=user.tenant, user=user).order_by("-created_at")


def user_list(*, tenant) -> QuerySet[User]:
    return User.objects.filter(tenant=tenant).order_by("username")
