from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _kind_label(kind: str) -> str:
    from kaisen.procedures.models import OrderKind

    return str(OrderKind(kind).label) if kind in OrderKind.values else kind


class ProceduresConfig(AppConfig):
    name = "kaisen.procedures"
    label = "procedures"
    verbose_name = _("Line procedures")

    def ready(self) -> None:
        # Approvals (kaisen.access) hold and carry out line procedures, but access sits below procedures and
        # must not import it: hand it the procedures here (issue 16 §3, docs/decisions/0006-layers.md).
        from kaisen.access.procedures import ProcedureHandler, register
        from kaisen.procedures.display import param_rows
        from kaisen.procedures.services import order_preview, order_submit

        register(ProcedureHandler(preview=order_preview, submit=order_submit, kind_label=_kind_label,
                                  param_rows=param_rows))
