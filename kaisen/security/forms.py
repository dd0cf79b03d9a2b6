from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


def _pw(label: Any, autocomplete: str) -> forms.CharField:
    return forms.CharField(label=label, strip=False, max_length=4096,
                           widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}))


class PasswordChangeForm(forms.Form):
    current_password = _pw(_("Current password"), "current-password")
    new_password1 = _pw(_("New password"), "new-password")
    new_password2 = _pw(_("New password (again)"), "new-password")
    end_other_sessions = forms.BooleanField(label=_("Sign out my other sessions"), required=False, initial=True)


class PasswordResetRequestForm(forms.Form):
    operator_id = forms.CharField(label=_("Operator ID"), max_length=12)
    username = forms.CharField(label=_("Username"), max_length=32)


class PasswordResetConfirmForm(forms.Form):
    new_password1 = _pw(_("New password"), "new-password")
    new_password2 = _pw(_("New password (again)"), "new-password")
