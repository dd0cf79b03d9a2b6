from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: The action families an audit entry can belong to (the part of ``action`` before the first dot).
ACTION_PREFIXES = [
    ("", _("All actions")),
    ("auth.", _("Logins and tokens")),
    ("apikey.", _("API keys")),
    ("user.", _("Users")),
    ("mfa.", _("Two-step login")),
    ("session.", _("Sessions")),
    ("line.", _("Lines")),
    ("order.", _("Procedures")),
    ("bulk.", _("Bulk uploads")),
    ("tenant.", _("Contract")),
    ("admin.", _("Operator back office")),
    ("audit.", _("Audit log exports")),
    ("demo.", _("Demo data")),
]
FAMILIES = [value for value, _label in ACTION_PREFIXES if value]

SUCCESS_CHOICES = [("", _("Any result")), ("1", _("Success")), ("0", _("Failure"))]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False, choices=ACTION_PREFIXES)
    date_from = forms.DateField(label=pgettext_lazy("date range", "From"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=pgettext_lazy("date range", "To"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    user = forms.TypedChoiceField(label=_("User"), required=False, coerce=int, empty_value=None)
    success = forms.ChoiceField(label=_("Result"), required=False, choices=SUCCESS_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, users: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", _("All users")), *(users or [])]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: dt.date | None = data.get("date_from")
        end: dt.date | None = data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``audit_event_list`` (only valid after ``is_valid()``)."""
        data = self.cleaned_data
        success = data.get("success")
        return {"action_prefix": data.get("action") or "", "date_from": data.get("date_from"),
                "date_to": data.get("date_to"), "user_id": data.get("user"),
                "success": None if success in (None, "") else success == "1"}
