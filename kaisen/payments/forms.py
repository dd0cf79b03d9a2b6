"""Forms of the payment pages: input shape only; the rules are in kaisen.payments.services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kaisen.payments.models import InvoiceDelivery, PaymentMethodKind
from kaisen.payments.services import PREFECTURES


class CardForm(forms.Form):
    number = forms.CharField(label=_("Card number"), max_length=23,
                             widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric",
                                                           "placeholder": "4242 4242 4242 4242"}))
    exp_month = forms.IntegerField(label=_("Expiry month"), min_value=1, max_value=12,
                                   widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-month",
                                                                    "placeholder": "MM"}))
    exp_year = forms.IntegerField(label=_("Expiry year"), min_value=2000, max_value=2100,
                                  widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-year",
                                                                   "placeholder": "YYYY"}))
    cvc = forms.CharField(label=_("Security code"), max_length=4,
                          widget=forms.PasswordInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}))
    holder = forms.CharField(label=_("Name on the card"), max_length=100, required=False,
                             widget=forms.TextInput(attrs={"autocomplete": "cc-name"}))


class MethodForm(forms.Form):
    method = forms.ChoiceField(label=_("Payment method"), choices=PaymentMethodKind.choices,
                               widget=forms.RadioSelect)
    delivery = forms.ChoiceField(label=_("Invoice delivery"), choices=InvoiceDelivery.choices, required=False,
                                 widget=forms.RadioSelect)

    def clean_delivery(self) -> str | None:
        return self.cleaned_data["delivery"] or None  # none chosen: method_set keeps the current delivery


class ApplicationForm(forms.Form):
    company_name = forms.CharField(label=_("Company name"), max_length=200)
    department = forms.CharField(label=_("Department"), max_length=100, required=False)
    contact_name = forms.CharField(label=_("Contact name"), max_length=100)
    email = forms.EmailField(label=_("Invoice email address"),
                             help_text=_("On your company's domain; free email addresses are not accepted."))
    phone = forms.CharField(label=_("Phone"), max_length=20)
    postal_code = forms.CharField(label=_("Postal code"), max_length=8,
                                  widget=forms.TextInput(attrs={"placeholder": "100-0001", "inputmode": "numeric"}))
    prefecture = forms.ChoiceField(label=_("Prefecture"), choices=[("", "—")] + [(p, p) for p in PREFECTURES])
    address = forms.CharField(label=_("Address (from the city on)"), max_length=200,
                              help_text=_("Without the prefecture, e.g. 千代田区千代田1-1."))
    delivery = forms.ChoiceField(label=_("Invoice delivery"), choices=InvoiceDelivery.choices,
                                 initial=InvoiceDelivery.EMAIL, widget=forms.RadioSelect)
    note = forms.CharField(label=_("Remarks"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


class EmailForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))


class RecoveryForm(forms.Form):
    email = forms.EmailField(label=_("Recovery email address"), required=False,
                             help_text=_("Leave empty to remove it."))
