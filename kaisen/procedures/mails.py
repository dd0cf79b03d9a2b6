"""The mails a procedure sends the tenant (M-PROC-7 and each procedure's seed page), in Japanese.

Each mail names the line, the procedure, the effective date and the order number. The text is rendered
from ``templates/emails/procedures/<topic>.txt`` with the context built here, and queued in the outbox in
the transaction of the step it reports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.template.loader import render_to_string

from kaisen.core import clock
from kaisen.notifications.models import OutboxMessage
from kaisen.notifications.services import outbox_add
from kaisen.procedures import rules
from kaisen.procedures.models import Order, OrderKind

PROCEDURE_JA: dict[str, str] = {
    OrderKind.MNP_ACTIVATION: "MNP転入開通",
    OrderKind.SUSPEND: "回線一時中断",
    OrderKind.RESUME: "回線利用再開",
    OrderKind.VOICE_OPTIONS: "音声オプション変更",
    OrderKind.PLAN_CHANGE: "プラン変更（上限値設定）",
    OrderKind.SIM_REISSUE: "SIMサイズ変更・再発行",
    OrderKind.MNP_RESERVATION: "MNP予約番号取得",
    OrderKind.CANCELLATION: "解約",
}
PROCEDURE_EN: dict[str, str] = {
    OrderKind.MNP_ACTIVATION: "MNP port-in activation",
    OrderKind.SUSPEND: "Suspension",
    OrderKind.RESUME: "Resumption",
    OrderKind.VOICE_OPTIONS: "Voice options change",
    OrderKind.PLAN_CHANGE: "Plan / data cap change",
    OrderKind.SIM_REISSUE: "SIM size change / reissue",
    OrderKind.MNP_RESERVATION: "MNP reservation number",
    OrderKind.CANCELLATION: "Cancellation",
}
# (Japanese, English) subject lines per topic; {p} is the procedure's name.
SUBJECTS: dict[str, tuple[str, str]] = {
    rules.ACCEPTED: ("【Kaisen】{p}のお申し込みを受け付けました", "{p} accepted"),
    rules.COMPLETED: ("【Kaisen】{p}が完了しました", "{p} completed"),
    rules.CANCELLED: ("【Kaisen】{p}のお申し込みを取り消しました", "{p} withdrawn"),
    rules.FAILED: ("【Kaisen】{p}を完了できませんでした", "{p} could not be completed"),
    rules.REMINDER: ("【Kaisen】明日SIMカードを発送します", "Your new SIM ships tomorrow"),
    rules.NUMBER_ISSUED: ("【Kaisen】MNP予約番号のご案内", "Your MNP reservation number"),
    rules.PORTED_OUT: ("【Kaisen】MNP転出が完了しました", "The number has been ported out"),
    rules.DELAYED: ("【Kaisen】メンテナンスのため{p}の処理を延期します", "{p} delayed by maintenance"),
}
# The activation request is "完了" for the customer once accepted (the seed's 開通依頼完了 mail).
_SUBJECT_OVERRIDES: dict[tuple[str, str], str] = {
    (OrderKind.MNP_ACTIVATION, rules.ACCEPTED): "【Kaisen】MNP転入の開通依頼が完了しました",
    (OrderKind.CANCELLATION, rules.CANCELLED): "【Kaisen】解約のお申し込みを取り消しました（解約キャンセル）",
}

_OPTION_JA = {
    "flat_rate_calling": "通話定額", "voicemail": "留守番電話", "call_waiting": "キャッチホン/割込通話",
    "call_forwarding": "転送電話", "international_call_cap": "国際電話（上限額）",
    "international_roaming_cap": "国際ローミング（上限額）", "network_pin": "ネットワーク暗証番号",
    "group_calling": "グループ通話", "number_block": "ナンバーブロック",
}
_SIZE_JA = {"standard": "標準", "micro": "マイクロ", "nano": "ナノ", "multi": "マルチ"}


def order_number(order: Order) -> str:
    """The order number as the pages, the API (``id``) and the CLI show it: 申込番号 2 (issue 14; the carrier
    reference ``KSN-2`` is the engine's and stays out of customer mails)."""
    return str(order.pk)


def _date_ja(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def _datetime_ja(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    local = at.astimezone(clock.JST)
    return f"{_date_ja(local.date())} {local:%H:%M}"


def _details(order: Order) -> list[str]:
    """The order's parameters as lines of the mail body."""
    p = order.params
    out: list[str] = []
    if order.kind == OrderKind.VOICE_OPTIONS:
        out.append("適用日: " + ("当日（即時）" if p.get("effective") == "today" else "翌月1日"))
        for name, value in (p.get("options") or {}).items():
            label = _OPTION_JA.get(name, name)
            if isinstance(value, bool):
                shown = "申し込む" if value else "解除"
            elif name == "network_pin":
                shown = "変更（****）"
            else:
                shown = f"{int(value):,}円"
            out.append(f"  {label}: {shown}")
    elif order.kind == OrderKind.PLAN_CHANGE:
        out.append(f"変更後のプラン: {p.get('plan_code')}")
        cap = p.get("data_cap_mb")
        out.append(f"データ利用量上限値: {cap:,}MB" if cap else "データ利用量上限値: なし")
    elif order.kind == OrderKind.SIM_REISSUE:
        out.append("再発行方法: 黒SIM出荷")
        out.append(f"SIMサイズ: {_SIZE_JA.get(p.get('sim_size', ''), p.get('sim_size'))}")
        out.append(f"発送希望日（回線切替日）: {_date_ja(dt.date.fromisoformat(p['ship_date']))}")
        address = p.get("delivery_address")
        if address:
            out.append(f"発送先: 〒{address['postal_code']} {address['address']} {address['recipient']} 様")
    elif order.kind == OrderKind.MNP_RESERVATION:
        out.append(f"ご契約名義: {p.get('holder_name')}（{p.get('holder_name_kana')}）")
        out.append("性別・区分: 法人")
    elif order.kind == OrderKind.CANCELLATION:
        out.append(f"利用終了日: {_date_ja(dt.date.fromisoformat(p['end_date']))}")
    elif order.kind == OrderKind.MNP_ACTIVATION:
        out.append(f"開通希望日: {_date_ja(dt.date.fromisoformat(p['activation_date']))}")
    return out


def render(order: Order, topic: str, *, extra: dict[str, Any] | None = None) -> tuple[str, str]:
    """(subject, body) of the mail ``topic`` about ``order``."""
    line = order.line
    ja, en = SUBJECTS[topic]
    subject = _SUBJECT_OVERRIDES.get((order.kind, topic)) or ja.format(p=PROCEDURE_JA[order.kind])
    context = {
        "order": order,
        "topic": topic,
        "tenant": order.tenant,
        "line": line,
        "number": order_number(order),
        "msisdn": line.msisdn_display or "（未割当）",
        "iccid": line.iccid,
        "procedure": PROCEDURE_JA[order.kind],
        "procedure_en": PROCEDURE_EN[order.kind],
        "subject_en": en.format(p=PROCEDURE_EN[order.kind]),
        "effective_date": _date_ja(order.effective_date),
        "due_at": _datetime_ja(order.due_at),
        "cancellable_until": _datetime_ja(order.withdrawal_deadline),
        "details": _details(order),
        "accepted_at": _datetime_ja(order.created_at),
        "error_message": order.error_message,
        "reservation_expires": _date_ja(line.mnp_reservation_expires_on),
        **(extra or {}),
    }
    body = render_to_string("emails/procedures/order.txt", context)
    return subject, body


def order_mail(order: Order, topic: str, *, send_after: dt.datetime | None = None,
               extra: dict[str, Any] | None = None) -> OutboxMessage | None:
    """Queue the mail ``topic`` about ``order`` to the tenant's notification address (once per topic)."""
    subject, body = render(order, topic, extra=extra)
    return outbox_add(tenant=order.tenant, order=order, topic=topic, to=[order.tenant.notification_email],
                      subject=subject, body=body, send_after=send_after)


def order_delayed_mail(order: Order, resumes: dt.datetime, reason: str) -> OutboxMessage | None:
    """Tell the customer an accepted order waits for the end of a maintenance window (issue 15 §1)."""
    local = resumes.astimezone(clock.JST)
    return order_mail(order, rules.DELAYED, extra={"resumes_at": _datetime_ja(resumes),
                                                   "resumes_at_en": f"{local:%Y-%m-%d %H:%M}", "reason": reason})
