"""The CSV layouts of every statement, one small declarative definition each (issue 4 §6).

A ``Layout`` says: its file name, its columns (header text and whether a cell is free text or a number
Kaisen formatted), the encodings the seed allows, whether it is a monthly or a daily file, its window
and publication day, and where its rows come from (``query``: a ``values_list`` queryset streamed with
``.iterator()``; ``row``: one database tuple → the cells). The writer (``writers.py``) does the rest the
same way for all of them: CRLF, minimal quoting, formula-injection guard, encoding.

Sources: seed 000 (M-DL-1..5), seed 002 (K-6, K-7), seed 001 (S-BILL-2). Where a seed shows only a picture
of a file, the header row is the seed's numbered column list in its order (docs/statements.md lists each
choice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Round
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kaisen.billing.models import ChargeCategory, Currency, InvoiceItem, TaxClass
from kaisen.billing.tariffs import VOICE_EXEMPT_LABEL, VOICE_TAXABLE_LABEL
from kaisen.carriers.models import Coverage
from kaisen.core.calendar import add_months, first_of_next_month, last_day_of_month, month_start, previous_month
from kaisen.lines.models import Line, LineStatus
from kaisen.statements.encoding import CP932, UTF8, UTF8_BOM
from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallRecord, CallType, DataUsageDaily

TEXT, NUMBER = "text", "number"
MONTH, DAY = "month", "day"
BYTES_PER_MB = 1024 * 1024


class JstText(Func):
    """A timestamp as ``YYYY/MM/DD HH:MM:SS.mmm`` in Japan time, formatted by the database (no per-row
    datetime objects in Python: the CDR and call-detail exports stream millions of rows)."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="strftime('%%Y/%%m/%%d %%H:%%M:%%f', %(expressions)s, "
                                                          "'+9 hours')", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="to_char(%(expressions)s AT TIME ZONE 'Asia/Tokyo', "
                                                          "'YYYY/MM/DD HH24:MI:SS.MS')", **extra)


class IntCast(Cast):
    """``CAST(… AS integer)``; the database answers an int already, so no per-row Python converter."""

    @property
    def convert_value(self) -> Any:
        return self._convert_value_noop  # type: ignore[attr-defined]


def cents(field: str) -> Cast:
    """An amount as integer hundredths, rounded by the database (exact on both SQLite and PostgreSQL)."""
    return IntCast(Round(F(field) * 100), BigIntegerField())


def as_int(field: str) -> Cast:
    return IntCast(F(field), IntegerField())


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT  # TEXT cells are neutralised against formula injection; NUMBER cells are Kaisen's own


@dataclass(frozen=True)
class Context:
    tenant: Any
    scope: Q  # line filter of the requesting user, relative to the queried model's line
    line_scope: Q  # the same filter relative to ``Line`` itself
    period: dt.date
    partner_id: str


@dataclass(frozen=True)
class Layout:
    kind: str
    requirement: str
    label: Promise
    file_pattern: str  # {partner}, {yyyymm}
    columns: tuple[Column, ...]
    encodings: tuple[str, ...]
    period: str  # MONTH or DAY
    query: Callable[[Context], QuerySet[Any]]
    row: Callable[[Sequence[Any], Context], Sequence[str]]
    window_months: int = 0  # MONTH: how many months can be chosen (newest first)
    publish_lag: int = 0  # MONTH: month M is published in month M + lag …
    publish_day: int = 1  # … on this day (Japan time)
    k5_blackout: bool = False  # K-5: no generation nor download on the 1st and the last day of a month
    trim_trailing_spaces: bool = False  # K-6 / K-7: "右半角スペースはトリミング"
    header_row: bool = True
    note: Promise | str = ""
    #: PostgreSQL fast path: the same cells, formatted and guarded by the database, as (SQL, params) of a
    #: SELECT that ``COPY … TO STDOUT (FORMAT csv)`` streams (``writers.write_copy``). None: rows go through
    #: Python (``query`` + ``row``). The golden files prove both paths give the same bytes.
    pg_select: Callable[[Context], tuple[str, list[Any]]] | None = None

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def text_columns(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c.kind == TEXT)

    def file_name(self, partner_id: str, period: dt.date) -> str:
        return self.file_pattern.format(partner=partner_id, yyyymm=f"{period:%Y%m}")

    def count(self, ctx: Context) -> int:
        return self.query(ctx).count()

    def rows(self, ctx: Context, chunk_size: int = 2000) -> Iterable[Sequence[str]]:
        fmt = self.row
        for record in self.query(ctx).iterator(chunk_size=chunk_size):
            yield fmt(record, ctx)


# --- cell formats -------------------------------------------------------------------------------------------

def amount(value: Decimal | int | None) -> str:
    """An amount: whole numbers without decimals, others with theirs and no trailing zeros
    (M-DL-2 ④ "値が整数ではない場合、小数点以下も表示されます"); NULL (not rated) is empty."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def amount_cents(value: int | None) -> str:
    """``amount`` for integer hundredths (``1250`` → ``12.5``, ``4000`` → ``40``, ``-5`` → ``-0.05``)."""
    if value is None:
        return ""
    whole, rest = divmod(abs(value), 100)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}" if not rest else f"{sign}{whole}.{rest:02d}".rstrip("0")


def iso_date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def duration_hhmmss_s(ds: int) -> str:
    """K-7 ⑥ ``hhmmss.s`` from tenths of a second."""
    seconds, tenth = divmod(ds, 10)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}{minute:02d}{second:02d}.{tenth}"


def duration_hh_mm_ss(ds: int) -> str:
    """M-DL-3 ⑥ ``HH:MM:SS``: tenths rounded up to the next whole second (as a call is charged)."""
    seconds = (ds + 9) // 10
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def phone(number: str | None) -> str:
    """A national 11-digit number with hyphens (``090-1234-5678``); any other number as it is (K-7:
    "国際呼および一部の国内電話番号への通話については、ハイフンなしの表示")."""
    if number and len(number) == 11 and number.isdigit() and number[0] == "0":
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return number or ""


def month_yyyymm(month: dt.date) -> str:
    return f"{month:%Y%m}"


TAX_TEXT = {TaxClass.TAXABLE_10.value: "外税10%", TaxClass.EXEMPT.value: "非課税"}
CARRIER_TEXT = {"docomo": "docomo", "softbank": "SoftBank", "au": "au"}
SIM_TYPE_TEXT = {"data": "データ", "sms": "SMS", "voice": "音声"}
SIM_SIZE_TEXT = {"standard": "標準", "micro": "マイクロ", "nano": "ナノ", "multi": "マルチ"}
LINE_STATUS_TEXT = {LineStatus.NOT_ACTIVATED.value: "未開通", LineStatus.ACTIVE.value: "利用中",
                    LineStatus.SUSPENDED.value: "中断中", LineStatus.CANCELLED.value: "解約済"}

#: M-DL-3 ⑩: the cost type of the voice charge detail the call is part of (the labels of billing.tariffs).
CDR_COST_TYPE: dict[str, str] = {
    CallType.DOMESTIC: "Xi通話料", CallType.MOBILE: "他社通話料", CallType.MOBILE_AU: "他社通話料(au)",
    CallType.IP: "IP電話通話料", CallType.OTHER_CARRIER_SERVICE: "他社接続サービス通信料",
    CallType.DIRECTORY_ASSISTANCE: "番号案内料", CallType.INTERNATIONAL: "国際通話料",
    CallType.ROAMING_OUTGOING: "国際ローミング通話料", CallType.ROAMING_INCOMING: "国際ローミング通話料",
    CallType.SMS: "SMS送信料", CallType.SMS_INTERNATIONAL: "国際SMS送信料",
}
#: M-DL-3: special numbers whose cost type follows the number, whatever the record's call type says.
SPECIAL_NUMBERS: dict[str, str] = {"117": CallType.DOMESTIC, "171": CallType.DOMESTIC,
                   "188": CallType.OTHER_CARRIER_SERVICE, "189": CallType.OTHER_CARRIER_SERVICE}
SMS_TYPES = frozenset({CallType.SMS.value, CallType.SMS_INTERNATIONAL.value})

#: K-7 ⑧ 呼種別.
K7_CALL_TYPE: dict[str, str] = {
    CallType.DOMESTIC: "国内呼", CallType.MOBILE: "携帯呼", CallType.MOBILE_AU: "携帯呼(au)", CallType.IP: "IP間呼",
    CallType.OTHER_CARRIER_SERVICE: "他社接続呼", CallType.DIRECTORY_ASSISTANCE: "番号案内",
    CallType.INTERNATIONAL: "国際呼", CallType.ROAMING_OUTGOING: "国際ローミング発信",
    CallType.ROAMING_INCOMING: "国際ローミング着信", CallType.SMS: "SMS", CallType.SMS_INTERNATIONAL: "国際SMS",
}
K7_AU_FLAT = "携帯呼(au定額)"


def _effective_call_type(call_type: str, destination: str) -> str:
    return SPECIAL_NUMBERS.get(destination, call_type)


def _tax_text(call_type: str, tax_exempt: bool) -> str:
    exempt = tax_exempt or call_type in TAX_EXEMPT_CALL_TYPES
    return "非課税" if exempt else "外税10%"


def _count_text(call_type: str, units: int) -> str:
    return f"{units}通" if call_type in SMS_TYPES else f"{units}件"


# --- currencies (issue 10 §7) ----------------------------------------------------------------------------------

#: The currency a row's amounts are in, and the amount cells: the seed's amount columns are yen only; a USD
#: amount (Global coverage, S-COV-1) goes in the trailing ``(USD)`` column(s), so no column holds two
#: currencies and a column sum is always right. ``通貨`` states each row's currency.
CURRENCY_COLUMN = "通貨"


def usd(header: str) -> str:
    return f"{header}(USD)"


def split_by_currency(currency: str, cells: Sequence[str]) -> list[str]:
    """The seed's amount cells for a yen row, or empty ones and the trailing USD cells for a dollar row:
    ``[*yen cells, 通貨, *usd cells]`` with the cells of the other currency empty."""
    blank = [""] * len(cells)
    if currency == Currency.USD:
        return [*blank, Currency.USD.value, *cells]
    return [*cells, Currency.JPY.value, *blank]


def _line_currency() -> Case:
    """A call's currency: the coverage of its line's plan (as rating prices it, ``rating.rate_calls``)."""
    return Case(When(line__plan__coverage=Coverage.GLOBAL, then=Value(Currency.USD.value)),
                default=Value(Currency.JPY.value), output_field=CharField())


# --- M-DL-1 invoice detail ----------------------------------------------------------------------------------

def _items(ctx: Context, **filters: Any) -> QuerySet[InvoiceItem]:
    return (InvoiceItem.objects.filter(tenant=ctx.tenant, invoice__tenant=ctx.tenant, invoice__month=ctx.period,
                                       **filters).filter(ctx.scope).order_by())


def _invoice_query(ctx: Context) -> QuerySet[Any]:
    """Every item of the month, except that a number's voice items (calls, SMS, voice options) are one row
    per tax class: ``音声課税対象料金`` / ``音声非課税対象料金`` (seed 000: the voice charge detail M-DL-2 is
    "請求明細上の音声課税対象料金および音声非課税対象料金に内包している料金の内訳"). A voice row sits where
    the number's first voice item of that class is. Yen rows first, then dollar rows."""
    plain = (_items(ctx, is_voice=False)
             .annotate(cur=F("invoice__currency"), num=F("msisdn"), k=F("id"), voice=Value(0),
                       amt=cents("amount"), tax=F("tax_class"), lbl=F("label"))
             .values_list("cur", "num", "k", "voice", "lbl", "amt", "tax"))
    voice = (_items(ctx, is_voice=True)
             .values(cur=F("invoice__currency"), num=F("msisdn"), tax=F("tax_class"))
             .annotate(k=Min("id"), voice=Value(1), lbl=Value(""),
                       amt=IntCast(Sum(cents("amount")), BigIntegerField()))
             .values_list("cur", "num", "k", "voice", "lbl", "amt", "tax"))
    return plain.union(voice, all=True).order_by("cur", "num", "k")  # type: ignore[no-any-return]


def _voice_label(tax_class: str) -> str:
    return VOICE_EXEMPT_LABEL if tax_class == TaxClass.EXEMPT else VOICE_TAXABLE_LABEL


def _invoice_row(r: Sequence[Any], ctx: Context) -> list[str]:
    currency, msisdn, _k, is_voice, label, cents_value, tax = r
    cells = split_by_currency(currency, [amount_cents(cents_value)])
    return [msisdn, month_yyyymm(ctx.period), _voice_label(tax) if is_voice else label, cells[0], "",
            TAX_TEXT.get(tax, tax), *cells[1:]]


# --- M-DL-2 voice charge detail -----------------------------------------------------------------------------

def _voice_query(ctx: Context) -> QuerySet[Any]:
    # "請求の発生しない回線は記載されません": only voice items of a number with an amount.
    return (_items(ctx, is_voice=True).exclude(msisdn="").exclude(amount=0)
            .order_by("invoice__currency", "msisdn", "id")
            .values_list("invoice__currency", "msisdn", "label", "amount", "tax_class"))


def _voice_row(r: Sequence[Any], ctx: Context) -> list[str]:
    currency, msisdn, label, value, tax = r
    cells = split_by_currency(currency, [amount(value)])
    return [msisdn, month_yyyymm(ctx.period), label, cells[0], TAX_TEXT.get(tax, tax), *cells[1:]]


# --- M-DL-3 call detail records and K-7 call detail ---------------------------------------------------------

_CALL_FIELDS = ("msisdn", "jst", "destination_number", "destination_area", "duration_ds", "units", "charge_cents",
                "call_type", "exempt", "internal", "cur")


def _calls_base(ctx: Context) -> QuerySet[Any]:
    return (CallRecord.objects.filter(tenant=ctx.tenant, billing_month=ctx.period).filter(ctx.scope)
            .order_by("msisdn", "started_at", "id")
            .annotate(jst=JstText("started_at"), charge_cents=cents("charge"), exempt=as_int("tax_exempt"),
                      internal=as_int("is_internal"), cur=_line_currency()))


def _calls_query(ctx: Context) -> QuerySet[Any]:
    return _calls_base(ctx).values_list(*_CALL_FIELDS)


def _cdr_row(r: Sequence[Any], ctx: Context) -> list[str]:
    msisdn, t, dest, area, ds, units, charge, call_type, exempt, _internal, currency = r
    effective = _effective_call_type(call_type, dest)
    if call_type in SMS_TYPES or call_type == CallType.DIRECTORY_ASSISTANCE:
        duration = _count_text(call_type, units)
    else:
        duration = duration_hh_mm_ss(ds)
    service = "SMS" if call_type in SMS_TYPES else "音声"
    direction = ("発信" if call_type == CallType.ROAMING_OUTGOING
                 else "着信" if call_type == CallType.ROAMING_INCOMING else "")
    cells = split_by_currency(currency, [amount_cents(charge)])
    return [msisdn, t[:10], t[11:19], dest, area, duration, cells[0], _tax_text(call_type, exempt),
            service, CDR_COST_TYPE.get(effective, effective), direction, *cells[1:]]


def _pg_text(expr: str) -> str:
    """SQL of a free-text cell as ``writers`` makes it: line breaks → space, then the formula guard (a ``'``
    before = + - @ TAB unless the whole cell is a plain number); empty → NULL (COPY writes it unquoted).
    Most cells take the cheap first branch (three string tests, no regular expression)."""
    flat = f"translate({expr}, E'\\r\\n', '  ')"
    guard = f"left({flat}, 1) IN ('=', '+', '-', '@', E'\\t') AND {flat} !~ '^[-+]?[0-9]+(\\.[0-9]+)?$'"
    risky = (f"left({expr}, 1) IN ('=', '+', '-', '@', E'\\t') OR strpos({expr}, E'\\n') > 0 "
             f"OR strpos({expr}, E'\\r') > 0")
    return (f"CASE WHEN NOT ({risky}) THEN NULLIF({expr}, '') "
            f"ELSE NULLIF(CASE WHEN {guard} THEN chr(39) || {flat} ELSE {flat} END, '') END")


def _pg_case(expr: str, mapping: dict[str, str], params: list[Any], default: str) -> str:
    whens = []
    for key, text in mapping.items():
        whens.append("WHEN %s THEN %s")
        params.extend([str(key), text])
    return f"CASE {expr} {' '.join(whens)} ELSE {default} END"


def _cdr_pg_select(ctx: Context) -> tuple[str, list[Any]]:
    """M-DL-3 formatted by PostgreSQL, cell for cell what ``_cdr_row`` and the writer produce."""
    t = '"usage_callrecord"'

    def c(name: str) -> str:
        return f'{t}."{name}"'

    sms = "('sms', 'sms_international')"
    charge = (f"CASE WHEN {c('charge')} = trunc({c('charge')}) THEN trunc({c('charge')})::bigint::text "
              f"ELSE rtrim({c('charge')}::text, '0') END")
    exempt = "(" + ", ".join(f"'{ct}'" for ct in sorted(TAX_EXEMPT_CALL_TYPES)) + ")"
    secs = f"(({c('duration_ds')} + 9) / 10)"
    type_params: list[Any] = []
    by_type = _pg_case(c("call_type"), CDR_COST_TYPE, type_params, c("call_type"))
    number_params: list[Any] = []
    by_number = _pg_case(c("destination_number"), {k: CDR_COST_TYPE[v] for k, v in SPECIAL_NUMBERS.items()},
                         number_params, by_type)
    columns: list[tuple[str, list[Any]]] = [
        (_pg_text(c("msisdn")), []),
        (f"to_char({c('started_at')} AT TIME ZONE 'Asia/Tokyo', 'YYYY/MM/DD')", []),
        (f"to_char({c('started_at')} AT TIME ZONE 'Asia/Tokyo', 'HH24:MI:SS')", []),
        (_pg_text(c("destination_number")), []),
        (_pg_text(c("destination_area")), []),
        (f"CASE WHEN {c('call_type')} IN {sms} THEN {c('units')} || %s "
         f"WHEN {c('call_type')} = 'directory' THEN {c('units')} || %s "
         f"ELSE to_char({secs} * interval '1 second', 'HH24:MI:SS') END", ["通", "件"]),
        (charge, []),
        (f"CASE WHEN {c('tax_exempt')} OR {c('call_type')} IN {exempt} THEN %s ELSE %s END", ["非課税", "外税10%"]),
        (f"CASE WHEN {c('call_type')} IN {sms} THEN 'SMS' ELSE %s END", ["音声"]),
        (f"NULLIF({by_number}, '')", number_params + type_params),
        (f"CASE {c('call_type')} WHEN 'roaming_out' THEN %s WHEN 'roaming_in' THEN %s END", ["発信", "着信"]),
    ]
    cells: list[Any] = [RawSQL(sql, p, output_field=CharField())  # noqa: S611 (constant SQL, params bound)
                        for sql, p in columns]
    # Issue 10 §7: 料金 is yen only; a Global line's dollar charge goes in the trailing 料金(USD).
    is_usd = Q(line__plan__coverage=Coverage.GLOBAL)
    yen_charge = cells[6]
    cells[6] = Case(When(is_usd, then=Value(None)), default=yen_charge, output_field=CharField())
    cells += [_line_currency(), Case(When(is_usd, then=yen_charge), default=Value(None), output_field=CharField())]
    qs = (CallRecord.objects.filter(tenant=ctx.tenant, billing_month=ctx.period).filter(ctx.scope)
          .order_by("msisdn", "started_at", "id")
          .annotate(**{f"c{i}": cell for i, cell in enumerate(cells)})
          .values_list(*(f"c{i}" for i in range(len(cells)))))
    sql, sql_params = qs.query.sql_with_params()
    return sql, list(sql_params)


def _k7_query(ctx: Context) -> QuerySet[Any]:
    return _calls_base(ctx).annotate(flat=KeyTextTransform("flat_rate_calling", "line__voice_options")).values_list(
        *_CALL_FIELDS, "flat")


_TRUE_TEXT = frozenset({"true", "1", "True"})


def _k7_row(r: Sequence[Any], ctx: Context) -> list[str]:
    msisdn, t, dest, area, ds, units, charge, call_type, _exempt, internal, currency, flat = r
    effective = _effective_call_type(call_type, dest)
    if call_type == CallType.DIRECTORY_ASSISTANCE or call_type in SMS_TYPES:
        duration = _count_text(call_type, units)
    else:
        duration = duration_hhmmss_s(ds)
    if effective == CallType.MOBILE_AU and str(flat) in _TRUE_TEXT:
        kind = K7_AU_FLAT
    else:
        kind = K7_CALL_TYPE.get(effective, effective)
    domestic = not dest.startswith(("+", "010")) and call_type not in TAX_EXEMPT_CALL_TYPES
    return [phone(msisdn), t[:10], f"{t[11:13]}{t[14:16]}{t[17:19]}.{t[20]}", phone(dest) if domestic else dest,
            area, duration, "内線" if internal else "外線", kind, *split_by_currency(currency, [amount_cents(charge)])]


# --- K-6 per-number charges ---------------------------------------------------------------------------------

_K6 = {"domestic": ChargeCategory.DOMESTIC, "international": ChargeCategory.INTERNATIONAL,
       "au": ChargeCategory.MOBILE_AU, "other": ChargeCategory.MOBILE_OTHER}


def _k6_query(ctx: Context) -> QuerySet[Any]:
    zero = Value(Decimal(0))
    sums = {name: Coalesce(Sum("amount", filter=Q(category=cat)), zero) for name, cat in _K6.items()}
    return (InvoiceItem.objects.filter(tenant=ctx.tenant, invoice__tenant=ctx.tenant, invoice__month=ctx.period,
                                       category__in=list(_K6.values())).exclude(msisdn="").filter(ctx.scope)
            .values("invoice__currency", "msisdn").annotate(**sums).order_by("invoice__currency", "msisdn")
            .values_list("invoice__currency", "msisdn", "domestic", "international", "au", "other"))  # type: ignore[misc]


def _k6_row(r: Sequence[Any], ctx: Context) -> list[str]:
    """One number of one currency: 合計料金 adds the four columns of that currency only (issue 10 §7)."""
    currency, msisdn, domestic, international, au, other = r
    total = Decimal(domestic) + Decimal(international) + Decimal(au) + Decimal(other)
    return [phone(msisdn), *split_by_currency(currency, [amount(total), amount(Decimal(domestic)),
                                                         amount(Decimal(international)), amount(Decimal(au)),
                                                         amount(Decimal(other))])]


# --- M-DL-4 line lists ----------------------------------------------------------------------------------------

_LINE_FIELDS = ("msisdn", "iccid", "product_code", "plan__code", "carrier", "sim_type", "sim_size", "shipped_on",
                "started_on", "scheduled_end_on", "status")


def _lines_listed(ctx: Context, last_day: dt.date) -> QuerySet[Line]:
    """Lines of the list for the period ending ``last_day``: unactivated and cancelled ones included; a
    cancelled line stays listed until the month of its end date has closed (M-DL-4 ⑪)."""
    first = last_day.replace(day=1)
    return (Line.objects.filter(tenant=ctx.tenant).filter(ctx.line_scope)
            .exclude(status=LineStatus.CANCELLED, scheduled_end_on__lt=first)
            .exclude(shipped_on__gt=last_day))


def _line_daily_query(ctx: Context) -> QuerySet[Any]:
    return (_lines_listed(ctx, ctx.period).order_by(F("msisdn").asc(nulls_last=True), "iccid")
            .values_list(*_LINE_FIELDS))


def _line_monthly_query(ctx: Context) -> QuerySet[Any]:
    return (_lines_listed(ctx, last_day_of_month(ctx.period)).order_by(F("msisdn").asc(nulls_last=True), "iccid")
            .values_list(*_LINE_FIELDS))


def _line_cells(first: str, r: Sequence[Any]) -> list[str]:
    msisdn, iccid, product, plan, carrier, sim_type, size, shipped, started, end, status = r
    return [first, msisdn or "", iccid, product, plan or "", CARRIER_TEXT.get(carrier, carrier),
            SIM_TYPE_TEXT.get(sim_type, sim_type), SIM_SIZE_TEXT.get(size, size), iso_date(shipped),
            iso_date(started), iso_date(end), LINE_STATUS_TEXT.get(status, status)]


def _line_daily_row(r: Sequence[Any], ctx: Context) -> list[str]:
    return _line_cells(ctx.period.isoformat(), r)


def _line_monthly_row(r: Sequence[Any], ctx: Context) -> list[str]:
    return _line_cells(f"{ctx.period:%Y-%m}", r)


# --- M-DL-5 data usage --------------------------------------------------------------------------------------

def usage_date(file_date: dt.date) -> dt.date:
    """M-DL-5 ①: the file of day D reports day D − 2 (the day before is not complete yet)."""
    return file_date - dt.timedelta(days=2)


def _datausage_query(ctx: Context) -> QuerySet[Any]:
    day = usage_date(ctx.period)
    usage = DataUsageDaily.objects.filter(tenant=ctx.tenant, line=OuterRef("pk"))
    columns = {f"d{k}": Subquery(usage.filter(day=day - dt.timedelta(days=k)).values("bytes_used")[:1])
               for k in range(7)}
    # ⑫ last month = the month before the one ``day`` is in: it changes when ``day`` is the 1st (file of the 3rd).
    prev_first = previous_month(day)
    prev_last = last_day_of_month(prev_first)
    total = Subquery(usage.filter(day__gte=prev_first, day__lte=prev_last).order_by().values("line")
                     .annotate(s=Sum("bytes_used")).values("s")[:1], output_field=IntegerField())
    return (_lines_listed(ctx, day).order_by(F("msisdn").asc(nulls_last=True), "iccid")
            .annotate(**columns, last_month=total)
            .values_list("msisdn", "plan__code", "plan__data_allowance_mb", *columns, "last_month"))


def _datausage_row(r: Sequence[Any], ctx: Context) -> list[str]:
    msisdn, plan, allowance_mb = r[0], r[1], r[2]
    days = [str(v or 0) for v in r[3:10]]
    return [usage_date(ctx.period).isoformat(), msisdn or "", plan or "",
            str(allowance_mb * BYTES_PER_MB) if allowance_mb else "", *days, str(r[10] or 0)]


# --- S-BILL-2 billing detail ----------------------------------------------------------------------------------

COVERAGE_TEXT = {"japan": "日本", "global": "グローバル"}
STATUS_TEXT = {"accumulating": "集計中", "final": "確定", "invoiced": "請求済", "paid": "支払済",
               "payment_error": "支払エラー", "no_charge": "請求なし"}


def _billing_query(ctx: Context) -> QuerySet[Any]:
    return (InvoiceItem.objects.filter(tenant=ctx.tenant, invoice__tenant=ctx.tenant, invoice__month=ctx.period)
            .filter(ctx.scope).order_by("invoice__currency", "msisdn", "cost_type", "id")
            .values_list("invoice__coverage", "invoice__currency", "invoice__status", "msisdn", "line__iccid",
                         "cost_type", "label", "quantity", "amount", "tax_class"))


def _billing_row(r: Sequence[Any], ctx: Context) -> list[str]:
    coverage, currency, status, msisdn, iccid, code, label, quantity, value, tax = r
    yen = "" if currency == Currency.USD else amount(value)
    dollars = amount(value) if currency == Currency.USD else ""
    return [f"{ctx.period:%Y-%m}", COVERAGE_TEXT.get(coverage, coverage), currency, STATUS_TEXT.get(status, status),
            msisdn, iccid or "", code, label, amount(quantity), yen, TAX_TEXT.get(tax, tax), dollars]


# --- the catalogue ------------------------------------------------------------------------------------------

BOTH = (UTF8, UTF8_BOM, CP932)
#: Files the seeds give in UTF-8 only; the BOM variant is the same text for Excel on Windows.
UTF8_ONLY = (UTF8, UTF8_BOM)
C = Column
#: Issue 10 §7: after the seed's columns, the row's currency and its amount when it is in US dollars.
USD_TAIL = (C(CURRENCY_COLUMN), C(usd("料金"), NUMBER))
_K6_AMOUNTS = (C("合計料金", NUMBER), C("国内通話", NUMBER), C("国際通話", NUMBER), C("au通話", NUMBER),
               C("その他移動体", NUMBER))

LAYOUTS: dict[str, Layout] = {layout.kind: layout for layout in (
    Layout(
        kind="invoice", requirement="M-DL-1", label=_("Invoice detail"),
        file_pattern="{partner}_INVOICE_{yyyymm}.csv",
        columns=(C("回線電話番号"), C("請求対象年月", NUMBER), C("費用種別"), C("料金", NUMBER), C("", NUMBER),
                 C("外税10%/非課税"), *USD_TAIL),
        encodings=BOTH, period=MONTH, window_months=6, publish_lag=1, publish_day=10,
        query=_invoice_query, row=_invoice_row,
        note=_("Fees of each line and of the account. Published on the 10th of the following month; last 6 months."),
    ),
    Layout(
        kind="invoice_voice", requirement="M-DL-2", label=_("Voice charge detail"),
        file_pattern="{partner}_INVOICE-VOICE_{yyyymm}.csv",
        columns=(C("回線電話番号"), C("請求対象年月", NUMBER), C("費用種別"), C("料金", NUMBER), C("外税10%/非課税"),
                 *USD_TAIL),
        encodings=BOTH, period=MONTH, window_months=6, publish_lag=1, publish_day=25,
        query=_voice_query, row=_voice_row,
        note=_("Voice and SMS charges of each line with charges. Published on the 25th; last 6 months."),
    ),
    Layout(
        kind="cdr", requirement="M-DL-3", label=_("Call detail records"),
        file_pattern="{partner}_CDR_{yyyymm}.csv",
        columns=(C("回線電話番号"), C("通信年月日", NUMBER), C("通信開始時刻", NUMBER), C("通信先電話番号"),
                 C("通信先"), C("通信時間", NUMBER), C("料金", NUMBER), C("外税10%/非課税"), C("通信種類1"),
                 C("通信種類2"), C("通信種類3"), *USD_TAIL),
        encodings=BOTH, period=MONTH, window_months=6, publish_lag=1, publish_day=25,
        query=_calls_query, row=_cdr_row, pg_select=_cdr_pg_select,
        note=_("Every call and SMS of lines with calls, at the standard rate. Published on the 25th; last 6 months."),
    ),
    Layout(
        kind="line_daily", requirement="M-DL-4", label=_("Line list (daily)"),
        file_pattern="{partner}_line-d.csv",
        columns=(C("集計対象日", NUMBER), C("回線電話番号"), C("SIM製造番号"), C("出荷時商品コード"), C("プランコード"),
                 C("キャリア種別"), C("SIM種別"), C("SIMサイズ"), C("出荷日", NUMBER), C("利用開始日", NUMBER),
                 C("利用終了予定日", NUMBER), C("SIMステータス")),
        encodings=UTF8_ONLY, period=DAY, query=_line_daily_query, row=_line_daily_row,
        note=_("Every line as of today, unactivated and cancelled ones included. Updated daily."),
    ),
    Layout(
        kind="line_monthly", requirement="M-DL-4", label=_("Line list (monthly)"),
        file_pattern="{partner}_line-m_{yyyymm}.csv",
        columns=(C("集計対象月", NUMBER), C("回線電話番号"), C("SIM製造番号"), C("出荷時商品コード"), C("プランコード"),
                 C("キャリア種別"), C("SIM種別"), C("SIMサイズ"), C("出荷日", NUMBER), C("利用開始日", NUMBER),
                 C("利用終了予定日", NUMBER), C("SIMステータス")),
        encodings=UTF8_ONLY, period=MONTH, window_months=3, publish_lag=1, publish_day=3,
        query=_line_monthly_query, row=_line_monthly_row,
        note=_("The lines of a closed month. Published on the 3rd; last 3 months."),
    ),
    Layout(
        kind="datausage", requirement="M-DL-5", label=_("Data usage"),
        file_pattern="{partner}_datausage.csv",
        columns=(C("集計対象日", NUMBER), C("回線電話番号"), C("プランコード"), C("プラン基準データ量", NUMBER),
                 *(C(h, NUMBER) for h in ("集計対象日のデータ利用量", "1日前のデータ利用量", "2日前のデータ利用量",
                                          "3日前のデータ利用量", "4日前のデータ利用量", "5日前のデータ利用量",
                                          "6日前のデータ利用量")),
                 C("前月の合計データ利用量", NUMBER)),
        encodings=UTF8_ONLY, period=DAY, query=_datausage_query, row=_datausage_row,
        note=_("Bytes per line for the 7 days up to the day before yesterday, and last month's total. Updated daily."),
    ),
    Layout(
        kind="number_charges", requirement="K-6", label=_("Charges per number"),
        file_pattern="{partner}_NUMBER-CHARGES_{yyyymm}.csv",
        columns=(C("ご利用電話番号"), *_K6_AMOUNTS, C(CURRENCY_COLUMN),
                 *(C(usd(c.header), NUMBER) for c in _K6_AMOUNTS)),
        encodings=BOTH, period=MONTH, window_months=4, publish_lag=0, publish_day=1, k5_blackout=True,
        trim_trailing_spaces=True, query=_k6_query, row=_k6_row,
        note=_("Call charges per number (domestic, international, au, other mobile). Last 4 months, this month "
               "included. Not available on the 1st and the last day of a month."),
    ),
    Layout(
        kind="call_detail", requirement="K-7", label=_("Call detail"),
        file_pattern="{partner}_CALL-DETAIL_{yyyymm}.csv",
        columns=(C("ご利用電話番号"), C("通話開始日時", NUMBER), C("通話開始時刻", NUMBER), C("着信電話番号"),
                 C("地域名"), C("通話時間", NUMBER), C("内線区分"), C("呼種別"), C("通話料", NUMBER),
                 C(CURRENCY_COLUMN), C(usd("通話料"), NUMBER)),
        encodings=BOTH, period=MONTH, window_months=4, publish_lag=0, publish_day=1, k5_blackout=True,
        trim_trailing_spaces=True, query=_k7_query, row=_k7_row,
        note=_("Every call of every number with its start to a tenth of a second. Last 4 months, this month "
               "included. Not available on the 1st and the last day of a month."),
    ),
    Layout(
        kind="billing_detail", requirement="S-BILL-2", label=_("Billing detail"),
        file_pattern="{partner}_BILLING-DETAIL_{yyyymm}.csv",
        columns=(C("請求対象年月", NUMBER), C("カバレッジ"), C("通貨"), C("状態"), C("回線電話番号"), C("ICCID"),
                 C("費用種別コード"), C("費用種別"), C("数量", NUMBER), C("料金", NUMBER), C("外税10%/非課税"),
                 C(usd("料金"), NUMBER)),
        encodings=BOTH, period=MONTH, window_months=12, publish_lag=0, publish_day=1,
        query=_billing_query, row=_billing_row,
        note=_("Every item of the month's bill, provisional until the amount is final. This month and the 11 before."),
    ),
)}


def layout_get(kind: str) -> Layout | None:
    return LAYOUTS.get(kind)


def latest_month(layout: Layout, today: dt.date) -> dt.date:
    """The newest month of a monthly layout that is published on ``today`` (Japan time)."""
    this_month = month_start(today)
    newest = add_months(this_month, -layout.publish_lag)
    return newest if today.day >= layout.publish_day else add_months(newest, -1)


def available_months(layout: Layout, today: dt.date) -> list[dt.date]:
    """The months a user may choose, newest first (empty for a daily file)."""
    if layout.period != MONTH:
        return []
    newest = latest_month(layout, today)
    return [add_months(newest, -i) for i in range(layout.window_months)]


def next_publication(layout: Layout, month: dt.date) -> dt.date:
    return add_months(month, layout.publish_lag).replace(day=layout.publish_day)


__all__ = ["LAYOUTS", "Column", "Context", "Layout", "available_months", "first_of_next_month", "layout_get"]
