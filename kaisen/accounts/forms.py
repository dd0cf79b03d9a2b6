from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    operator_id = forms.CharField(
        label=_("Operator ID"), max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "organization", "placeholder": "OP0123456789",
                                      "autocapitalize": "characters", "spellcheck": "false", "autofocus": True}),
    )
    username = forms.CharField(
        label=_("Username"), max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100,
        help_text=_("What the key is for, e.g. the program or server that uses it."),
    )
    expires_on = forms.DateField(
        label=_("Expiry date"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional. The key stops working at the end of this day (Japan time)."),
    )
