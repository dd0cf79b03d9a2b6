from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GoodsConfig(AppConfig):
    name = "kaisen.goods"
    label = "goods"
    verbose_name = _("SIM and device orders")

    def ready(self) -> None:
        # Goods bought by invoice are billed on the month's invoice (S-BILL-1 "goods included"); billing sits
        # below goods and must not import it: hand it the items here (docs/decisions/0006-layers.md).
        from kaisen.billing.extra_fees import register
        from kaisen.goods.billing import invoice_goods_items

        register("goods", invoice_goods_items)
