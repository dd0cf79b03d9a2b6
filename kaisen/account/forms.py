from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ContractHolderForm(forms.Form):
    """S-ACC-3: the contract holder's contact details and address (not the company name, not billing)."""

    contact_name = forms.CharField(label=_("Contact name"), max_length=100, required=False)
    contact_name_kana = forms.CharField(label=_("Contact name (katakana)"), max_length=100, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=20, required=False,
                                    widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    contact_email = forms.EmailField(label=_("Contact email"))
    notification_email = forms.EmailField(label=_("Notification email"),
                                          help_text=_("Procedure notices (accepted, completed) are sent here."))
    postal_code = forms.CharField(label=_("Postal code"), max_length=8, required=False,
                                  widget=forms.TextInput(attrs={"placeholder": "105-0011", "inputmode": "numeric",
                                                                "autocomplete": "postal-code"}))
    address = forms.CharField(label=_("Address"), max_length=200, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "street-address"}))


class LoginEmailForm(forms.Form):
    email = forms.EmailField(label=_("New login email"),
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}))


class TransferCreateForm(forms.Form):
    to_operator_id = forms.CharField(
        label=_("Receiving account's operator ID"), max_length=12,
        widget=forms.TextInput(attrs={"placeholder": "OP0123456789", "autocapitalize": "characters",
                                      "spellcheck": "false"}),
    )
    refs = forms.CharField(
        label=_("More SIMs (phone numbers or SIM serial numbers, one per line)"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )


class TransferTokenForm(forms.Form):
    token = forms.CharField(label=_("Transfer code"), max_length=64,
                            widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                          "placeholder": "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"}))


class DeleteAccountForm(forms.Form):
    operator_id = forms.CharField(label=_("Type your operator ID"), max_length=12,
                                  widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    password = forms.CharField(label=_("Your password"), strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class SessionSettingsForm(forms.Form):
    session_idle_minutes = forms.IntegerField(
        label=_("Sign out after this many idle minutes"), min_value=5, max_value=24 * 60,
        help_text=_("A signed-in browser session without any request for this long is signed out (5 to 1,440)."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
