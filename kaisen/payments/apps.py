from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "kaisen.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        # The monthly close (kaisen.billing) adds the fees a payment method brings, but billing sits below
        # payments and must not import it: hand it the fees here (issue 16 §3, docs/decisions/0006-layers.md).
        from kaisen.billing.extra_fees import register
        from kaisen.payments.selectors import invoice_extra_fees

        register("payments", invoice_extra_fees)
