from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
                                      "spellcheck": "false", "class": "form-control form-control-lg mono code-input"}),
    )


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address for login codes"), max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "class": "form-control"}),
        help_text=_("Must differ from your company's notification address."),
    )


class DisableForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), strip=False, max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "class": "form-control"}),
    )
    code = forms.CharField(
        label=_("Code from the authenticator app, or a recovery code"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "class": "form-control mono"}),
    )
