"""``modelyard webhooks create|list|test|deliveries``: registry webhooks."""

from __future__ import annotations

import click

from ..entities.webhooks import EXTENSION_EVENTS, MLFLOW_EVENTS
from .output import (
    SdkGroup,
    client,
    echo_json,
    echo_table,
    format_time,
    json_option,
    reading_client,
    tracking_uri_option,
    truncate,
)


@click.group("webhooks", cls=SdkGroup)
def command() -> None:
    """Registry webhooks: POST signed JSON to a URL when models change."""


@command.command("create")
@click.argument("name")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True, type=click.Choice([*MLFLOW_EVENTS, *EXTENSION_EVENTS]),
              help="An event to send (repeatable), e.g. model_version.created, model_version.stage_changed.")
@click.option("--secret", default=None, help="Sign deliveries with HMAC-SHA256 (X-MLflow-Signature).")
@click.option("--description", default=None, help="What the webhook is for.")
@click.option("--disabled", is_flag=True, help="Create it switched off.")
@tracking_uri_option
@json_option
def create(
    name: str, url: str, events: tuple[str, ...], secret: str | None, description: str | None, disabled: bool,
    tracking_uri: str | None, as_json: bool,
) -> None:
    """Create webhook NAME that POSTs the chosen events to URL."""
    hook = client(tracking_uri).create_webhook(name, url, list(events), description, secret,
                                               "DISABLED" if disabled else "ACTIVE")
    if as_json:
        echo_json(hook.to_dict())
    else:
        click.echo(f"Created webhook {hook.name} ({hook.webhook_id}) -> {hook.url}: {', '.join(hook.events)}.")


@command.command("list")
@click.option("--max-results", default=100, show_default=True, type=click.IntRange(1, 1000), help="Results per page.")
@click.option("--page-token", default=None, help="Continue from the token a previous page printed.")
@tracking_uri_option
@json_option
def list_(max_results: int, page_token: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List webhooks, newest first."""
    page = reading_client(tracking_uri).list_webhooks(max_results, page_token)
    if as_json:
        body: dict[str, object] = {"webhooks": [h.to_dict() for h in page.items]}
        if page.next_page_token:
            body["next_page_token"] = page.next_page_token
        echo_json(body)
        return
    rows = ([h.webhook_id, h.name, h.status, truncate(h.url, 40), ", ".join(h.events),
             format_time(h.creation_timestamp)] for h in page.items)
    echo_table(rows, ["ID", "NAME", "STATUS", "URL", "EVENTS", "CREATED"], empty="No webhooks.")
    if page.next_page_token:
        click.echo(f"More webhooks: add --page-token {page.next_page_token}", err=True)


@command.command("test")
@click.argument("webhook_id")
@click.option("--event", default=None, type=click.Choice([*MLFLOW_EVENTS, *EXTENSION_EVENTS]),
              help="Which event's example payload to send (default: the webhook's first event).")
@tracking_uri_option
@json_option
def test(webhook_id: str, event: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Send an example delivery to WEBHOOK_ID now and show the answer (exit 1 if it failed)."""
    result = client(tracking_uri).test_webhook(webhook_id, event)
    if as_json:
        echo_json(result.to_dict())
    elif result.success:
        click.echo(f"Delivered: HTTP {result.response_status}.")
    else:
        detail = result.error_message or f"HTTP {result.response_status}: {truncate(result.response_body or '', 200)}"
        click.echo(f"Failed: {detail}", err=True)
    if not result.success:
        raise SystemExit(1)


@command.command("deliveries")
@click.argument("webhook_id")
@click.option("--max-results", default=100, show_default=True, type=click.IntRange(1, 1000), help="Results per page.")
@tracking_uri_option
@json_option
def deliveries(webhook_id: str, max_results: int, tracking_uri: str | None, as_json: bool) -> None:
    """The deliveries of WEBHOOK_ID, newest first: event, status, attempts, last answer."""
    page = reading_client(tracking_uri).list_webhook_deliveries(webhook_id, max_results)
    if as_json:
        echo_json({"deliveries": [d.to_dict() for d in page.items]})
        return
    rows = ([d.delivery_id, d.event, d.status, d.attempts, d.response_status or "", truncate(d.error or "", 40),
             format_time(d.created_timestamp)] for d in page.items)
    echo_table(rows, ["DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "ERROR", "CREATED"], empty="No deliveries.")
