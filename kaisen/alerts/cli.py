"""``kaisen webhooks`` and ``kaisen alerts``: webhook endpoints and their delivery log; usage alert rules,
their history and the monthly budget. Client commands: they call a running portal's API with the token of
``kaisen login``. Django is not loaded here."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, emit, print_json

webhooks_app = typer.Typer(help="Webhook endpoints: add, test, delivery log, redeliver, rotate the secret.",
                           no_args_is_help=True)
alerts_app = typer.Typer(help="Usage alert rules, their history and the monthly budget.", no_args_is_help=True)

EndpointId = Annotated[int, typer.Argument(help="The endpoint's id (see `kaisen webhooks list`).", min=1)]


@webhooks_app.command("events")
def webhooks_events(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The events an endpoint can subscribe to."""
    emit(api("GET", "/webhooks/event-types", url=url))


@webhooks_app.command("list")
def webhooks_list(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The account's webhook endpoints."""
    emit(api("GET", "/webhooks", url=url))


@webhooks_app.command("add")
def webhooks_add(
    endpoint_url: Annotated[str, typer.Argument(help="The receiver's https URL.")],
    event: Annotated[list[str], typer.Option("--event", help="An event to send (repeat the option).")],
    description: Annotated[str, typer.Option(help="A note for you.")] = "",
    url: UrlOpt = None,
) -> None:
    """Add an endpoint; prints it with its signing secret."""
    print_json(api("POST", "/webhooks", url=url,
                   body={"url": endpoint_url, "event_types": event, "description": description}))


@webhooks_app.command("enable")
def webhooks_enable(endpoint_id: EndpointId, url: UrlOpt = None) -> None:
    """Enable an endpoint again (after it was disabled for failing)."""
    print_json(api("PATCH", f"/webhooks/{endpoint_id}", url=url, body={"enabled": True}))


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: EndpointId, url: UrlOpt = None) -> None:
    """Stop sending to an endpoint (events are held until it is enabled)."""
    print_json(api("PATCH", f"/webhooks/{endpoint_id}", url=url, body={"enabled": False}))


@webhooks_app.command("delete")
def webhooks_delete(endpoint_id: EndpointId, url: UrlOpt = None) -> None:
    """Remove an endpoint and its delivery log."""
    api("DELETE", f"/webhooks/{endpoint_id}", url=url)
    print_json({"deleted": endpoint_id})


@webhooks_app.command("test")
def webhooks_test(endpoint_id: EndpointId, url: UrlOpt = None) -> None:
    """Send a test ping now; prints the attempt (status, latency, answer)."""
    print_json(api("POST", f"/webhooks/{endpoint_id}/test", url=url))


@webhooks_app.command("rotate-secret")
def webhooks_rotate(endpoint_id: EndpointId,
                    overlap_hours: Annotated[int, typer.Option(min=0, max=168,
                                                               help="Hours the old secret still signs.")] = 24,
                    url: UrlOpt = None) -> None:
    """A new signing secret; both sign during the overlap."""
    print_json(api("POST", f"/webhooks/{endpoint_id}/rotate-secret", url=url,
                   body={"overlap_hours": overlap_hours}))


@webhooks_app.command("deliveries")
def webhooks_deliveries(endpoint_id: EndpointId,
                        limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
                        fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The endpoint's latest deliveries (status, attempts, next attempt)."""
    emit(api("GET", f"/webhooks/{endpoint_id}/deliveries", url=url, params={"limit": limit}))


@webhooks_app.command("delivery")
def webhooks_delivery(delivery_id: Annotated[int, typer.Argument(min=1)], url: UrlOpt = None) -> None:
    """One delivery with each attempt's status, latency and answer."""
    print_json(api("GET", f"/webhooks/deliveries/{delivery_id}", url=url))


@webhooks_app.command("redeliver")
def webhooks_redeliver(delivery_id: Annotated[int, typer.Argument(min=1)], url: UrlOpt = None) -> None:
    """Send a delivery again now (same webhook-id)."""
    print_json(api("POST", f"/webhooks/deliveries/{delivery_id}/redeliver", url=url))


@alerts_app.command("rules")
def alerts_rules(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """The usage alert rules."""
    emit(api("GET", "/alerts/rules", url=url))


@alerts_app.command("add")
def alerts_add(
    name: Annotated[str, typer.Argument(help="A name for the rule.")],
    condition: Annotated[str, typer.Option(help="data_month_mb, data_month_pct, data_day_mb, calls_month_yen, "
                                                "intl_month_yen or no_traffic_days.")],
    threshold: Annotated[str, typer.Option(help="MB, %, yen or days, by condition.")],
    action: Annotated[list[str], typer.Option("--action", help="mail, webhook or suspend (repeat).")],
    scope: Annotated[str, typer.Option(help="all, tag or line.")] = "all",
    tag_id: Annotated[int | None, typer.Option(help="With --scope tag.")] = None,
    line_id: Annotated[int | None, typer.Option(help="With --scope line.")] = None,
    url: UrlOpt = None,
) -> None:
    """Add a rule."""
    body: dict[str, Any] = {"name": name, "condition": condition, "threshold": threshold, "actions": action,
                            "scope": scope, "tag_id": tag_id, "line_id": line_id}
    print_json(api("POST", "/alerts/rules", url=url, body=body))


@alerts_app.command("enable")
def alerts_enable(rule_id: Annotated[int, typer.Argument(min=1)], url: UrlOpt = None) -> None:
    """Enable a rule."""
    print_json(api("PATCH", f"/alerts/rules/{rule_id}", url=url, body={"enabled": True}))


@alerts_app.command("disable")
def alerts_disable(rule_id: Annotated[int, typer.Argument(min=1)], url: UrlOpt = None) -> None:
    """Disable a rule (it keeps its history)."""
    print_json(api("PATCH", f"/alerts/rules/{rule_id}", url=url, body={"enabled": False}))


@alerts_app.command("delete")
def alerts_delete(rule_id: Annotated[int, typer.Argument(min=1)], url: UrlOpt = None) -> None:
    """Remove a rule (its firings stay in the history)."""
    api("DELETE", f"/alerts/rules/{rule_id}", url=url)
    print_json({"deleted": rule_id})


@alerts_app.command("history")
def alerts_history(limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 100,
                   fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """When rules and the budget fired, newest first, with the actions taken."""
    emit(api("GET", "/alerts/firings", url=url, params={"limit": limit}))


@alerts_app.command("budget")
def alerts_budget(
    coverage: Annotated[str, typer.Argument(help="japan or global.")] = "",
    amount: Annotated[str | None, typer.Option(help="Set the monthly budget (empty string removes it).")] = None,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """Show the budgets, or set one: alerts when the month-end projection crosses it."""
    if coverage and amount is not None:
        print_json(api("PUT", f"/budgets/{coverage}", url=url, body={"amount": amount}))
        return
    emit(api("GET", "/budgets", url=url))
