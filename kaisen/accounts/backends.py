from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from kaisen.accounts.models import User


class TenantUserBackend(ModelBackend):
    """Authenticates (operator ID, username, password); no operator ID means operator staff.

    Locked and inactive users never authenticate. The same hashing work is done for unknown users so
    that response time does not reveal which usernames exist.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        operator_id: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        qs = User.objects.select_related("tenant")
        try:
            if operator_id:
                user = qs.get(tenant__public_id=operator_id.strip().upper(), tenant__is_active=True, username=username)
            else:
                user = qs.get(tenant__isnull=True, username=username)
        except User.DoesNotExist:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user) and not user.is_locked:
            return user
        return None

    def get_user(self, user_id: int) -> User | None:
        try:
            user = User.objects.select_related("tenant").get(pk=user_id)
        except User.DoesNotExist:
            return None
        if not self.user_can_authenticate(user) or user.is_locked:
            return None
        return user
