"""Writing lines. Line procedures (suspend, plan change, ...) arrive with the procedures issue."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from kaisen.audit.services import audit_record
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.numbers import iccid_normalize, msisdn_normalize
from kaisen.lines.history import line_history_open
from kaisen.lines.models import Line, LinePeriodReason, LineStatus, Plan, SimSize, SimType
from kaisen.tenancy.models import Tenant


@transaction.atomic
def line_register(
    *,
    tenant: Tenant,
    iccid: str,
    plan: Plan,
    sim_type: str,
    sim_size: str,
    msisdn: str | None = None,
    msisdn_is_temporary: bool = False,
    product_code: str = "",
    is_ota: bool = False,
    shipped_on: dt.date | None = None,
    started_on: dt.date | None = None,
    scheduled_end_on: dt.date | None = None,
    status: str = LineStatus.NOT_ACTIVATED,
    actor=None,
) -> Line:
    """Register one SIM line in a tenant's inventory (back office, imports, demo)."""
    if sim_type not in SimType.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown SIM type."), field="sim_type")
    if sim_size not in SimSize.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown SIM size."), field="sim_size")
    if status not in LineStatus.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown line status."), field="status")
    number = msisdn_normalize(msisdn) if msisdn else None
    if status in (LineStatus.ACTIVE, LineStatus.SUSPENDED) and not number:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("An active or suspended line needs a phone number."),
                          field="msisdn")
    line = Line(
        tenant=tenant, iccid=iccid_normalize(iccid), msisdn=number, msisdn_is_temporary=msisdn_is_temporary,
        product_code=product_code, plan=plan, carrier=plan.carrier, sim_type=sim_type, sim_size=sim_size,
        is_ota=is_ota, shipped_on=shipped_on, started_on=started_on, scheduled_end_on=scheduled_end_on,
        status=status,
    )
    try:
        with transaction.atomic():
            line.save()
    except IntegrityError as exc:
        raise DomainError(ErrorCode.DUPLICATE, _("A line with this SIM serial number already exists."),
                          field="iccid") from exc
    line_history_open(line=line, reason=LinePeriodReason.REGISTERED)
    audit_record(action="line.register", tenant=tenant, user=actor, target=line,
                 changes={"iccid": [None, line.iccid], "msisdn": [None, line.msisdn], "status": [None, status]})
    return line
