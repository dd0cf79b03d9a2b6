"""The cross-tenant sweep covers the bill routes (T-2): with the tenant check taken out of the invoice
lookup, the sweep must fail on the Charges pages and the bills API."""

from __future__ import annotations

import pytest

from kaisen.billing.models import Invoice
from kaisen.core.errors import NotFound
from tests import test_cross_tenant as sweeps
from tests.conftest import TenantWorld
from tests.test_cross_tenant import Victim, victim  # noqa: F401 (the victim fixture)


def _leaky_invoice_get(*, tenant: object, user: object, invoice_id: int) -> Invoice:
    """``invoice_get`` with the tenant filter forgotten: the bug the sweep exists to catch."""
    invoice = Invoice.objects.select_related("tenant").filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFound()
    return invoice


@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["pages", "api"])
def test_the_sweep_catches_a_forgotten_tenant_check_on_bills(monkeypatch: pytest.MonkeyPatch,
                                                             tenant_a: TenantWorld, victim: Victim,  # noqa: F811
                                                             surface: str) -> None:
    from kaisen.billing import selectors

    assert Invoice.objects.filter(tenant=victim.world.tenant).exists(), "the sweep's tenant B has an invoice"
    monkeypatch.setattr(selectors, "invoice_get", _leaky_invoice_get)
    sweep = (sweeps.test_no_page_shows_or_changes_another_tenants_data_t_2 if surface == "pages"
             else sweeps.test_no_api_route_shows_or_changes_another_tenants_data_t_2)
    with pytest.raises(AssertionError, match=r"tenant B|expected 404"):
        sweep(tenant_a, victim)
