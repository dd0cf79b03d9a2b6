from __future__ import annotations

from django.db.models import QuerySet

from kaisen.accounts.models import ApiKey, User


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=user.tenant, user=user).order_by("-created_at")


def user_list(*, tenant) -> QuerySet[User]:
    return User.objects.filter(tenant=tenant).order_by("username")


def user_get(*, tenant, user_id: int) -> User:
    """A user of ``tenant``; another tenant's user is NotFound, like one that does not exist."""
    from kaisen.core.errors import NotFound

    user = User.objects.select_related("tenant").filter(tenant=tenant, pk=user_id).first() if tenant else None
    if user is None:
        raise NotFound()
    return user
