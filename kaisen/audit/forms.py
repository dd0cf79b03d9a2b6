from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

#: The action families an audit entry can belong to (the part of ``action`` before the first dot).
ACTION_PREFIXES = [
    ("", _("All actions")),
    ("auth.", _("Logins and tokens")),
    ("apikey.", _("API keys")),
    ("user.", _("Users")),
    ("line.", _("Lines")),
    ("tenant.", _("Contract")),
    ("admin.", _("Operator back office")),
]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False, choices=ACTION_PREFIXES)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
