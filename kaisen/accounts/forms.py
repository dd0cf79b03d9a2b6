from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kaisen.accounts.validators import validate_username


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


class EmailLoginForm(forms.Form):
    """S-ACC-1: the root user (the account's owner) logs in with the login email and password."""

    email = forms.EmailField(
        label=_("Email address"), max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false", "autofocus": True}),
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


def _username_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=32, validators=[validate_username],
        help_text=_("6 to 32 characters: letters (A-Z, a-z), digits (0-9) and underscore (_)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "maxlength": "32"}),
    )


class UserCreateForm(forms.Form):
    username = _username_field(_("Username"))
    display_name = forms.CharField(label=_("Name"), max_length=100, required=False,
                                   widget=forms.TextInput(attrs={"maxlength": "100"}))
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(label=_("Initial password"), strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Initial password (again)"), strip=False, max_length=4096,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("The two passwords do not match."))
        return data


class UserEditForm(forms.Form):
    display_name = forms.CharField(label=_("Name"), max_length=100, required=False,
                                   widget=forms.TextInput(attrs={"maxlength": "100"}))
    email = forms.EmailField(label=_("Email"), required=False)


class UsernameChangeForm(forms.Form):
    new_username = _username_field(_("New username"))
