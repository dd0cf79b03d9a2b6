from django.contrib import admin
from django.urls import include, path

from kaisen.api import api
from kaisen.core.urls import urlpatterns as core_urls
from kaisen.goods.urls import public_urlpatterns as goods_public_urls
from kaisen.lines.home import home

urlpatterns = [
    # First: every API request then resolves without walking the portal's patterns (no portal path starts
    # with api/v1/); that walk was a quarter of an API request's time in Django (issue 14, the profile of
    # the schemathesis run, docs/security.md "API fuzzing").
    path("api/v1/", api.urls),
    # The "core" namespace: the home page (lines at a glance) and core's own pages.
    path("", include(([path("", home, name="home"), *core_urls], "core"))),
    path("", include("kaisen.accounts.urls")),
    path("", include("kaisen.mfa.urls")),
    path("", include("kaisen.account.urls")),
    path("lines/", include("kaisen.lines.urls")),
    path("procedures/", include("kaisen.procedures.urls")),
    path("audit/", include("kaisen.auditlog.urls")),
    path("access/", include("kaisen.access.urls")),
    path("usage/", include("kaisen.usage.urls")),
    path("billing/", include("kaisen.billing.urls")),
    path("payments/", include("kaisen.payments.urls")),
    path("statements/", include("kaisen.statements.urls")),
    path("goods/", include("kaisen.goods.urls")),
    path("quote/", include(goods_public_urls)),
    path("alerts/", include("kaisen.alerts.urls")),
    path("notices/", include("kaisen.controls.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("kaisen.ops.urls")),  # /healthz, /readyz, /metrics (issue 11 §5)
]
handler403 = "kaisen.access.views.permission_denied_view"
handler404 = "kaisen.api.not_found_view"
