from django.contrib import admin
from django.urls import include, path

from kaisen.api import api

urlpatterns = [
    path("", include("kaisen.core.urls")),
    path("", include("kaisen.accounts.urls")),
    path("", include("kaisen.mfa.urls")),
    path("", include("kaisen.tenancy.urls")),
    path("lines/", include("kaisen.lines.urls")),
    path("procedures/", include("kaisen.procedures.urls")),
    path("audit/", include("kaisen.audit.urls")),
    path("access/", include("kaisen.access.urls")),
    path("usage/", include("kaisen.usage.urls")),
    path("billing/", include("kaisen.billing.urls")),
    path("payments/", include("kaisen.payments.urls")),
    path("statements/", include("kaisen.statements.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
handler403 = "kaisen.access.views.permission_denied_view"
