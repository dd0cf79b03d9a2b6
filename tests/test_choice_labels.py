"""Issue 14: a withdrawn order was shown as 解約済 ("line terminated") because the order and line statuses
shared the msgid "Cancelled". This walks the ``choices`` of every model field of the kaisen apps and fails
when one Japanese label stands for two different things:

- two status fields (``status``, ``state`` …) of different models show the same Japanese word: a reader
  seeing 取消済 on an order and on a line would take it for the same state;
- any choice field maps two different stored values to the same Japanese word (within one field or
  across models).

A sharing that is meant is listed in ``ALLOWED`` with its reason.
"""

from __future__ import annotations

from collections import defaultdict

from django.apps import apps
from django.utils import translation

from kaisen.procedures.models import OrderStatus

#: Japanese label -> the fields/values allowed to share it, as ``app.Model.field=value``, and why.
ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    **{ja: (frozenset({f"billing.Invoice.status={v}", f"payments.UnpaidInvoice.status={v}"}),
            "the payments pages show the same invoice's status")
       for ja, v in (("集計中", "accumulating"), ("確定", "final"), ("請求済", "invoiced"), ("支払済", "paid"),
                     ("支払エラー", "payment_error"), ("請求なし", "no_charge"), ("請求統合", "combined"))},
    **{ja: (frozenset({f"access.ApprovalRequest.status={v}", f"payments.InvoiceApplication.status={v}"}),
            "both are requests a second person decides on; the words mean the same")
       for ja, v in (("承認済み", "approved"), ("否認", "rejected"), ("取り下げ", "withdrawn"))},
    "失敗": (frozenset({"notifications.OutboxMessage.status=failed", "procedures.BulkJob.status=failed",
                      "procedures.Order.status=failed", "statements.Statement.status=failed"}),
             "it did not work, whatever it was"),
    "利用中": (frozenset({"lines.Line.status=active", "payments.PaymentSetting.bank_debit_status=active"}),
              "in use: the line, or the bank debit arrangement"),
}


def _entries() -> list[tuple[str, str, str, bool]]:
    """(Japanese label, "app.Model.field=value", model label, is a status field) of every choice.

    Fields with the very same choices are one thing shown twice (a line's status and the status kept in its
    history, ``lines.LinePeriod.status``): they are reported under the first such field's name."""
    fields = []
    with translation.override("ja"):
        for model in apps.get_models():
            if not model.__module__.startswith("kaisen."):
                continue
            for field in model._meta.get_fields():
                if not getattr(field, "concrete", False) or not getattr(field, "choices", None):
                    continue
                choices = tuple((value, str(label)) for value, label in field.flatchoices if value not in ("", None))
                fields.append((f"{model._meta.label}.{field.name}", model._meta.label, field.name, choices))
        canonical: dict[tuple, tuple[str, str]] = {}
        for name, label, _field, choices in sorted(fields):
            canonical.setdefault(choices, (name, label))
        out = []
        for _name, _label, field_name, choices in fields:
            name, label = canonical[choices]
            is_status = "status" in field_name or "state" in field_name
            out.extend((ja, f"{name}={value}", label, is_status) for value, ja in choices)
    return sorted(set(out))


def _clashes() -> dict[str, set[str]]:
    by_label: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    for ja, where, model, is_status in _entries():
        by_label[ja].append((where, model, is_status))
    clashes: dict[str, set[str]] = {}
    for ja, items in by_label.items():
        values = {where.split("=", 1)[1] for where, _, _ in items}
        status_models = {model for _, model, is_status in items if is_status}
        if len(values) > 1 or len(status_models) > 1:
            wheres = {where for where, _, _ in items}
            allowed = ALLOWED.get(ja)
            if allowed is None or not wheres <= allowed[0]:
                clashes[ja] = wheres
    return clashes


def test_no_two_choices_share_a_japanese_label_unless_meant():
    clashes = _clashes()
    assert not clashes, "Japanese labels standing for different things:\n" + "\n".join(
        f"  {ja}: {sorted(wheres)}" for ja, wheres in sorted(clashes.items()))


def test_a_withdrawn_order_is_not_labelled_as_a_terminated_line():
    from kaisen.lines.models import LineStatus

    with translation.override("ja"):
        assert str(OrderStatus.CANCELLED.label) == "取消済"
        assert str(LineStatus.CANCELLED.label) == "解約済"
    with translation.override("en"):
        assert str(OrderStatus.CANCELLED.label) == "Cancelled"


def test_the_check_catches_a_shared_label(monkeypatch):
    """The check itself can fail: give the order status the line's word and it reports the clash."""
    from django.utils.functional import lazy

    from kaisen.procedures.models import Order

    field = Order._meta.get_field("status")
    shared = lazy(lambda: translation.gettext("Cancelled"), str)()
    monkeypatch.setattr(field, "choices", [*(c for c in field.choices if c[0] != "cancelled"),
                                            ("cancelled", shared)])
    assert "解約済" in _clashes()
