"""``kaisen goods``: quotes and orders of SIMs and devices (issue 12; S-ORD-1, S-ORD-2).

Client commands (``catalogue``, ``quote``, ``quotes``, ``order``, ``orders``, ``show``, ``cancel``,
``statement``) call a running portal's API with the token of ``kaisen login``. Operator commands (``kaisen
admin goods catalogue-load``, ``price``, ``due``, ``settle``, ``ship``, ``deliver``, ``delivery-note``) run
server side against this environment's database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import UrlOpt, api, api_stream, django_setup, emit, print_json

goods_app = typer.Typer(help="Quotes and orders of SIMs and devices (calls the API).", no_args_is_help=True)
goods_admin_app = typer.Typer(help="Operator: the catalogue and the fulfilment of SIM and device orders "
                                   "(server side).", no_args_is_help=True)

ItemsOpt = Annotated[list[str] | None, typer.Option(
    "--item", "-i", help="CODE=QUANTITY, repeatable (see `kaisen goods catalogue`).")]


def _items(values: list[str] | None) -> list[dict[str, Any]]:
    out = []
    for value in values or []:
        code, sep, qty = value.partition("=")
        if not sep or not qty.strip().isdigit():
            typer.echo(f"--item {value}: write CODE=QUANTITY.", err=True)
            raise typer.Exit(2)
        out.append({"code": code.strip(), "quantity": int(qty)})
    return out


# --- client commands (call the API) ---------------------------------------------------------------------

@goods_app.command("catalogue")
def catalogue(coverage: Annotated[str, typer.Option(help="japan or global.")] = "japan",
              url: UrlOpt = None) -> None:
    """Products, parcels and running-cost items with today's price (tax excluded)."""
    emit(api("GET", "/goods/catalogue", url=url, params={"coverage": coverage}))


@goods_app.command("quote")
def quote(
    item: ItemsOpt = None,
    running: Annotated[list[str] | None, typer.Option("--running", "-r", help="Running cost CODE=QUANTITY.")] = None,
    no_shipping: Annotated[bool, typer.Option("--no-shipping", help="Leave shipping out of the quote.")] = False,
    nekopos: Annotated[bool, typer.Option("--nekopos", help="Ship as the small parcel.")] = False,
    coverage: Annotated[str, typer.Option(help="japan or global.")] = "japan",
    addressee: Annotated[str, typer.Option(help="Addressee printed on the quote.")] = "",
    email: Annotated[list[str] | None, typer.Option("--email", help="Send the quote to (up to 5).")] = None,
    url: UrlOpt = None,
) -> None:
    """Make and save a quote: initial costs (products and shipping) and running costs per month."""
    body = {"coverage": coverage, "products": _items(item), "running": _items(running),
            "shipping": "excluded" if no_shipping else "japan", "nekopos": nekopos, "addressee": addressee}
    saved = api("POST", "/goods/quotes", url=url, body=body)
    if email:
        api("POST", f"/goods/quotes/{saved['id']}/email", url=url, body={"emails": email})
    print_json(saved)


@goods_app.command("quotes")
def quotes(url: UrlOpt = None) -> None:
    """Your saved quotes."""
    rows = api("GET", "/goods/quotes", url=url)
    emit([{k: q[k] for k in ("id", "number", "issued_on", "valid_until", "initial_total", "monthly_total",
                              "currency")} for q in rows])


@goods_app.command("quote-pdf")
def quote_pdf(quote_id: Annotated[int, typer.Argument(help="The quote's ID.")],
              out: Annotated[Path, typer.Option("--out", "-o", help="Write the PDF to this file.")],
              url: UrlOpt = None) -> None:
    """Download a quote (見積書, PDF)."""
    with api_stream(f"/goods/quotes/{quote_id}/pdf", url=url) as resp:
        content = resp.read()
    out.write_bytes(content)
    print_json({"quote_id": quote_id, "file": str(out), "bytes": len(content)})


@goods_app.command("order")
def order(
    recipient: Annotated[str, typer.Option(help="Recipient's name.")],
    postal_code: Annotated[str, typer.Option(help="Postal code, 123-4567.")],
    address: Annotated[str, typer.Option(help="Delivery address.")],
    item: ItemsOpt = None,
    quote_id: Annotated[int | None, typer.Option("--quote", help="Order what a valid quote names.")] = None,
    deliver_on: Annotated[str | None, typer.Option(
        "--deliver-on", help="Advance order: delivery date YYYY-MM-DD, 14 days ahead or later.")] = None,
    nekopos: Annotated[bool, typer.Option("--nekopos", help="Ship as the small parcel.")] = False,
    phone: Annotated[str, typer.Option(help="Phone for the delivery.")] = "",
    coverage: Annotated[str, typer.Option(help="japan or global.")] = "japan",
    key: Annotated[str | None, typer.Option(help="Idempotency key (default: a new random one).")] = None,
    url: UrlOpt = None,
) -> None:
    """Order SIMs and devices, paid by the coverage's payment method just before shipment."""
    body: dict[str, Any] = {"coverage": coverage, "products": _items(item), "quote_id": quote_id,
                            "desired_delivery_on": deliver_on, "nekopos": nekopos, "recipient": recipient,
                            "postal_code": postal_code, "address": address, "phone": phone,
                            "idempotency_key": key or uuid.uuid4().hex}
    print_json(api("POST", "/goods/orders", url=url, body=body))


@goods_app.command("orders")
def orders(status: Annotated[str | None, typer.Option(help="Only orders in this status.")] = None,
           url: UrlOpt = None) -> None:
    """Your SIM and device orders, newest first."""
    rows = api("GET", "/goods/orders", url=url, params={"status": status} if status else None)
    emit([{k: o[k] for k in ("id", "number", "status", "payment_method", "total", "currency", "created_at",
                              "tracking_number")} for o in rows])


@goods_app.command("show")
def show(order_id: Annotated[int, typer.Argument(help="The order's ID.")], url: UrlOpt = None) -> None:
    """One order with its items, tracking number and history."""
    print_json(api("GET", f"/goods/orders/{order_id}", url=url))


@goods_app.command("cancel")
def cancel(order_id: Annotated[int, typer.Argument(help="The order's ID.")], url: UrlOpt = None) -> None:
    """Cancel an order before shipment."""
    print_json(api("POST", f"/goods/orders/{order_id}/cancel", url=url))


@goods_app.command("statement")
def statement(month: Annotated[str, typer.Argument(help="Month, YYYY-MM.")],
              out: Annotated[Path, typer.Option("--out", "-o", help="Write the PDF to this file.")],
              coverage: Annotated[str, typer.Option(help="japan or global.")] = "japan",
              url: UrlOpt = None) -> None:
    """Download the payment statement (請求明細書, PDF) of a month: purchases and usage."""
    with api_stream("/goods/payment-statement", url=url, params={"month": month, "coverage": coverage}) as resp:
        content = resp.read()
    out.write_bytes(content)
    print_json({"month": month, "file": str(out), "bytes": len(content)})


# --- operator commands (server side) --------------------------------------------------------------------

def _fail(exc: Any) -> None:
    typer.echo(f"{exc.code}: {exc.message}", err=True)
    raise typer.Exit(1)


def _order_id(number: str) -> int:
    from kaisen.goods.models import GoodsOrder

    found = GoodsOrder.objects.filter(number=number).first() or (
        GoodsOrder.objects.filter(pk=int(number)).first() if number.isdigit() else None)
    if found is None:
        typer.echo(f"No order {number}.", err=True)
        raise typer.Exit(1)
    return found.pk


def _row(o: Any) -> dict[str, Any]:
    return {"id": o.pk, "number": o.number, "tenant": o.tenant.public_id, "status": o.status,
            "payment_method": o.payment_method, "total": o.total, "currency": o.currency,
            "desired_delivery_on": o.desired_delivery_on, "tracking_number": o.tracking_number}


@goods_admin_app.command("catalogue-load")
def catalogue_load() -> None:
    """Operator: create the starting catalogue's missing items (SIMs in every offered size, devices, parcels,
    running costs); existing items are left as they are."""
    django_setup()
    from kaisen.goods.setup import catalogue_ensure

    print_json({"created": catalogue_ensure()})


@goods_admin_app.command("price")
def price(code: Annotated[str, typer.Argument(help="Item code.")],
          amount: Annotated[str, typer.Argument(help="Price, tax excluded.")],
          valid_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (today or later).")]) -> None:
    """Operator: add a price version of a catalogue item."""
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.goods.catalogue import price_set
    from kaisen.goods.models import CatalogueItem

    item = CatalogueItem.objects.filter(code=code).first()
    if item is None:
        typer.echo(f"No item {code}.", err=True)
        raise typer.Exit(1)
    try:
        version = price_set(item=item, valid_from=dt.date.fromisoformat(valid_from), amount=amount,
                            actor="kaisen admin goods")
    except ValueError:
        typer.echo("--from: write YYYY-MM-DD.", err=True)
        raise typer.Exit(2) from None
    except DomainError as exc:
        _fail(exc)
        return
    print_json({"code": code, "valid_from": version.valid_from, "amount": version.amount})


@goods_admin_app.command("due")
def due(date: Annotated[str | None, typer.Option(help="Business date (YYYY-MM-DD, JST); default today.")] = None
        ) -> None:
    """Operator: the orders to pay and ship now (advance orders from 3 days before their date)."""
    django_setup()
    from kaisen.goods.services import due_orders

    emit([_row(o) for o in due_orders(today=dt.date.fromisoformat(date) if date else None)[:500]])


@goods_admin_app.command("settle")
def settle(number: Annotated[str | None, typer.Argument(help="Order number (or ID); default: every due order.")]
           = None) -> None:
    """Operator: take the payment just before shipment — charge the card (a failure holds the order and mails
    the customer) or add an invoice order to this month's invoice."""
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.goods.services import order_settle, settle_due

    if number is None:
        print_json(settle_due())
        return
    try:
        print_json(_row(order_settle(order_id=_order_id(number), actor="kaisen admin goods")))
    except DomainError as exc:
        _fail(exc)


@goods_admin_app.command("ship")
def ship(number: Annotated[str, typer.Argument(help="Order number (or ID).")],
         tracking: Annotated[str, typer.Option(help="Tracking number.")],
         carrier: Annotated[str, typer.Option(help="Delivery company.")] = "ヤマト運輸",
         iccid: Annotated[list[str] | None, typer.Option(help="ICCID of a SIM in the parcel, repeatable.")] = None
         ) -> None:
    """Operator: record the shipment; each SIM becomes a line of the customer, not activated."""
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.goods.services import order_ship

    try:
        print_json(_row(order_ship(order_id=_order_id(number), carrier_name=carrier, tracking_number=tracking,
                                   iccids=iccid or [], actor="kaisen admin goods")))
    except DomainError as exc:
        _fail(exc)


@goods_admin_app.command("deliver")
def deliver(number: Annotated[str, typer.Argument(help="Order number (or ID).")]) -> None:
    """Operator: the parcel was delivered."""
    django_setup()
    from kaisen.core.errors import DomainError
    from kaisen.goods.services import order_deliver

    try:
        print_json(_row(order_deliver(order_id=_order_id(number), actor="kaisen admin goods")))
    except DomainError as exc:
        _fail(exc)


@goods_admin_app.command("delivery-note")
def delivery_note(number: Annotated[str, typer.Argument(help="Order number (or ID).")],
                  out: Annotated[Path, typer.Option("--out", "-o", help="Write the PDF to this file.")]) -> None:
    """Operator: print the delivery note (納品書, PDF) of a shipped order for the parcel."""
    django_setup()
    from kaisen.goods.models import GoodsOrder
    from kaisen.goods.pdf import delivery_note_pdf

    order_obj = GoodsOrder.objects.select_related("tenant").get(pk=_order_id(number))
    if order_obj.shipped_on is None:
        typer.echo("The delivery note exists once the order has shipped.", err=True)
        raise typer.Exit(1)
    content = delivery_note_pdf(order=order_obj)
    out.write_bytes(content)
    print_json({"order": order_obj.number, "file": str(out), "bytes": len(content)})
