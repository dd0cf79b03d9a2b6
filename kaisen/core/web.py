"""Access rules shared by the web pages (interfaces only; the rules themselves live in services)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from kaisen.accounts.models import User
from kaisen.tenancy.models import Tenant

View = Callable[..., HttpResponse]


def request_tenant(request: HttpRequest) -> Tenant:
    """The tenant of the signed-in user; only for views behind ``tenant_user_required``."""
    tenant = getattr(request.user, "tenant", None)
    if tenant is None:
        raise PermissionDenied
    return tenant


def request_user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _guard(check: Callable[[Any], bool], denied: Callable[[], Exception] = PermissionDenied) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise denied()
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


#: A user of a tenant (operator staff have no tenant and use the back office instead).
tenant_user_required = _guard(lambda user: user.tenant_id is not None)
#: The tenant's root user (X-AUDIT: the audit log is theirs).
root_user_required = _guard(lambda user: user.tenant_id is not None and user.is_root)


def action_required(action: str) -> Callable[[View], View]:
    """A tenant user who may perform ``action`` (issue 5 §1; the root user always may): else the 403 page."""
    def check(user: Any) -> bool:
        from kaisen.access.services import can

        return user.tenant_id is not None and can(user=user, action=action)

    def denied() -> Exception:
        from kaisen.access.services import ActionDenied

        return ActionDenied(action)  # the 403 page names the permission that is missing (issue 14)

    return _guard(check, denied)
#: The operator's own staff.
staff_required = _guard(lambda user: user.is_staff and user.tenant_id is None)
