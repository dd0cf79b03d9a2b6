from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kaisen.carriers.models import Carrier
from kaisen.lines.models import LineStatus, Plan, SimType
from kaisen.lines.selectors import DEFAULT_SORT, SORTS

PAGE_SIZES = (50, 100, 200)


def _with_blank(choices: Iterable[tuple[str, Any]], blank: Any) -> list[tuple[str, Any]]:
    return [("", blank), *choices]


class LineFilterForm(forms.Form):
    """The line list's GET form. Every field is optional; an unknown value is a form error, not a 500."""

    q = forms.CharField(
        label=_("Phone number / SIM serial"), required=False, max_length=40,
        widget=forms.TextInput(attrs={"placeholder": _("Beginning of a phone number or SIM serial number"),
                                      "inputmode": "numeric", "spellcheck": "false"}),
    )
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=_with_blank(LineStatus.choices, _("All")))
    carrier = forms.ChoiceField(label=_("Carrier"), required=False,
                                choices=_with_blank(Carrier.choices, _("All")))
    sim_type = forms.ChoiceField(label=_("SIM type"), required=False,
                                 choices=_with_blank(SimType.choices, _("All")))
    plan = forms.ChoiceField(label=_("Plan"), required=False)
    sort = forms.ChoiceField(required=False, choices=[(key, key) for key in SORTS], widget=forms.HiddenInput)
    size = forms.TypedChoiceField(label=_("Rows per page"), required=False, coerce=int,
                                  empty_value=PAGE_SIZES[0],  # type: ignore[arg-type]
                                  choices=[(str(n), str(n)) for n in PAGE_SIZES])
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args: Any, plans: Iterable[Plan] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan_field = self.fields["plan"]
        assert isinstance(plan_field, forms.ChoiceField)
        plan_field.choices = _with_blank(((p.code, f"{p.code} {p.name}") for p in plans), _("All"))

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or DEFAULT_SORT


class LineLookupForm(forms.Form):
    q = forms.CharField(
        label=_("Phone number or SIM serial number"), max_length=40,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. 090-1234-5678 or 8981100000000000000"),
                                      "inputmode": "numeric", "spellcheck": "false", "autofocus": True,
                                      "autocomplete": "off"}),
    )
