"""``modelyard promote NAME --version N --to ALIAS`` and ``modelyard promotion ...``: policies, requests.

The server runs the gates: the command prints each check's verdict and what would pass, and exits
1 when a gate failed (the alias stays where it was).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .output import SdkCommand, SdkGroup, client, echo_json, echo_table, format_time, json_option, tracking_uri_option


def _print_checks(result: dict[str, Any]) -> None:
    for c in result["checks"]:
        click.echo(f"{'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['message']}")
        if not c["passed"] and c.get("fix"):
            click.echo(f"      would pass: {c['fix']}")


@click.command("promote", cls=SdkCommand)
@click.argument("name")
@click.option("--version", "version", required=True, help="The model version to promote.")
@click.option("--to", "alias", default="champion", show_default=True, help="The alias to move to it.")
@click.option("--dry-run", is_flag=True, help="Run the gates only: record nothing, move nothing.")
@click.option("--rollout", type=click.Choice(["shadow", "canary", "all"]), default=None,
              help="When the gates pass, roll the version out in serving instead of moving the alias at once.")
@click.option("--weight", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="With --rollout canary: the candidate's share of requests.")
@tracking_uri_option
@json_option
def command(name: str, version: str, alias: str, dry_run: bool, rollout: str | None, weight: float,
            tracking_uri: str | None, as_json: bool) -> None:
    """Run the gates of ALIAS's policy on version N of model NAME; move the alias when every gate passes."""
    c = client(tracking_uri)
    plan = None if rollout is None else {"mode": rollout, "weight": weight}
    result = c.check_promotion(name, version, alias) if dry_run else c.promote(name, version, alias, plan)
    if as_json:
        echo_json({"promotion": result})
    else:
        _print_checks(result)
        if dry_run:
            click.echo(f"Dry run: every gate {'passes' if result['passed'] else 'does not pass'}.")
        elif result.get("rollout"):
            click.echo(f"Gates passed: rolling {name} version {version} out on @{alias} ({rollout}, promotion"
                       f" {result['id']}).")
        elif result["passed"]:
            click.echo(f"Promoted {name} version {version} to @{alias} (promotion {result['id']}).")
        else:
            click.echo(f"Not promoted: {', '.join(result['failed_checks'])} failed (promotion {result['id']}).")
    if not result["passed"]:
        raise SystemExit(1)


@click.group("promotion", cls=SdkGroup)
def promotion() -> None:
    """Promotion policies, transition requests and the history of promotions."""


@promotion.command("set-policy")
@click.argument("name")
@click.argument("alias")
@click.argument("policy_file", type=click.Path(exists=True, dir_okay=False))
@tracking_uri_option
def set_policy(name: str, alias: str, policy_file: str, tracking_uri: str | None) -> None:
    """Register the policy in POLICY_FILE (YAML) for ALIAS of model NAME."""
    out = client(tracking_uri).set_promotion_policy(name, alias, Path(policy_file).read_text())
    click.echo(f"{name}@{alias}: {len(out['policy']['gates'])} gates.")


@promotion.command("get-policy")
@click.argument("name")
@click.argument("alias")
@tracking_uri_option
def get_policy(name: str, alias: str, tracking_uri: str | None) -> None:
    """Print the policy of ALIAS of model NAME."""
    echo_json(client(tracking_uri).get_promotion_policy(name, alias))


@promotion.command("request")
@click.argument("name")
@click.option("--version", "version", required=True)
@click.option("--to", "alias", default="champion", show_default=True)
@click.option("--comment", default=None)
@tracking_uri_option
def request(name: str, version: str, alias: str, comment: str | None, tracking_uri: str | None) -> None:
    """Ask for version N of model NAME to take ALIAS."""
    r = client(tracking_uri).request_transition(name, version, alias, comment)
    click.echo(f"Request {r['id']}: {name} version {version} to @{alias} ({r['status']}).")


def _action(verb: str) -> Any:
    @promotion.command(verb)
    @click.argument("name")
    @click.argument("request_id")
    @click.option("--comment", default=None)
    @tracking_uri_option
    def run(name: str, request_id: str, comment: str | None, tracking_uri: str | None) -> None:
        c = client(tracking_uri)
        if verb == "comment" and not comment:
            raise click.UsageError("give --comment TEXT")
        r = getattr(c, f"{verb}_transition_request")(name, request_id, comment)
        click.echo(f"Request {r['id']}: {r['status']}.")

    run.__doc__ = f"{verb.capitalize()} transition request REQUEST_ID of model NAME."
    run.help = run.__doc__
    return run


for _verb in ("approve", "reject", "comment", "cancel"):
    _action(_verb)


@promotion.command("requests")
@click.option("--model", default=None, help="Only requests of this model.")
@click.option("--status", default=None, type=click.Choice(["open", "approved", "rejected", "cancelled", "promoted"]))
@tracking_uri_option
@json_option
def requests(model: str | None, status: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List transition requests (the approvers' queue: --status open)."""
    found = client(tracking_uri).list_transition_requests(model, status)
    if as_json:
        echo_json({"requests": found})
        return
    echo_table(([r["id"], r["model_name"], r["version"], r["alias"], r["status"], r["requested_by"] or "-",
                 format_time(r["created_ms"])] for r in found),
               ["ID", "MODEL", "VERSION", "ALIAS", "STATUS", "BY", "CREATED"], empty="No transition requests.")


@promotion.command("history")
@click.argument("name")
@click.option("--version", default=None)
@tracking_uri_option
@json_option
def history(name: str, version: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """The promotions of model NAME (each gate run), newest first."""
    found = client(tracking_uri).list_promotions(name, version)
    if as_json:
        echo_json({"promotions": found})
        return
    rows = [[p["id"], p["version"], p["alias"], p["status"],
             ", ".join(c["name"] for c in p["checks"] if not c["passed"]) or "-", p["user_id"] or "-",
             format_time(p["created_ms"])] for p in found]
    echo_table(rows, ["ID", "VERSION", "ALIAS", "STATUS", "FAILED", "BY", "WHEN"], empty="No promotions.")
