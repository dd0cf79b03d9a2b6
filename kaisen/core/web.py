"""Access rules shared by the web pages (interfaces only; the rules themselves live in services).

Core sits below every app: the user is the configured user model (``AUTH_USER_MODEL``, ``accounts.User``) and
the names of the user and tenant models below are for type checking only. The page guard that asks access
whether a user may perform an action is ``kaisen.access.web.action_required``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
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
    if not isinstance(user, get_user_model()):
        raise PermissionDenied
    return cast("User", user)


def guard(check: Callable[[Any], bool], denied: Callable[[], Exception] = PermissionDenied) -> Callable[[View], View]:
    """A view decorator: the sign-in page for a visitor, the 403 page (``denied()``) for a user ``check``
    refuses."""

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
tenant_user_required = guard(lambda user: user.tenant_id is not None)
#: The tenant's root user (X-AUDIT: the audit log is theirs).
root_user_required = guard(lambda user: user.tenant_id is not None and user.is_root)
#: The operator's own staff.
staff_required = guard(lambda user: user.is_staff and user.tenant_id is None)
