"""The back office (T-3): the admin site's look, and a mixin for records nobody edits there.

The audit every admin write goes through is ``kaisen.audit.backoffice.AuditedAdminMixin``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Kaisen back office")
admin.site.site_title = _("Kaisen back office")
admin.site.index_title = _("Operator administration")
admin.site.site_url = "/"


class ReadOnlyAdminMixin:
    """Records that are written only by services (the audit log, API keys): look, never touch."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
