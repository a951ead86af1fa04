"""``modelyard prices set|list|delete|usage``: the LLM price table and token/cost roll-ups."""

from __future__ import annotations

import click

from .output import SdkGroup, client, echo_json, echo_table, json_option, reading_client, tracking_uri_option


@click.group("prices", cls=SdkGroup)
def command() -> None:
    """LLM prices per million tokens, and what traces, runs, model and prompt versions cost."""


@command.command("set")
@click.argument("model")
@click.option("--input", "input_price", type=float, required=True, help="Price per million input tokens.")
@click.option("--output", "output_price", type=float, required=True, help="Price per million output tokens.")
@click.option("--cached-input", "cached_price", type=float, default=None,
              help="Price per million cached input tokens (default: the input price).")
@click.option("--currency", default="USD", show_default=True, help="Currency code.")
@tracking_uri_option
@json_option
def set_(model: str, input_price: float, output_price: float, cached_price: float | None, currency: str,
         tracking_uri: str | None, as_json: bool) -> None:
    """Price MODEL (or every model starting with a prefix: 'gpt-4o*')."""
    price = client(tracking_uri).set_llm_price(model, input_price, output_price, cached_price, currency)
    if as_json:
        echo_json(price.to_dict())
    else:
        click.echo(f"Priced {price.model}: input {price.input_per_million}, output {price.output_per_million}"
                   f", cached input {price.cached_input_per_million if price.cached_input_per_million is not None else price.input_per_million}"
                   f" {price.currency} per million tokens.")


@command.command("list")
@tracking_uri_option
@json_option
def list_(tracking_uri: str | None, as_json: bool) -> None:
    """The price table."""
    prices = reading_client(tracking_uri).list_llm_prices()
    if as_json:
        echo_json({"prices": [p.to_dict() for p in prices]})
        return
    echo_table(([p.model, p.input_per_million, p.output_per_million,
                 "" if p.cached_input_per_million is None else p.cached_input_per_million, p.currency] for p in prices),
               ["MODEL", "INPUT/M", "OUTPUT/M", "CACHED INPUT/M", "CURRENCY"], empty="No prices.")


@command.command("delete")
@click.argument("model")
@tracking_uri_option
def delete(model: str, tracking_uri: str | None) -> None:
    """Remove MODEL's price."""
    client(tracking_uri).delete_llm_price(model)
    click.echo(f"Deleted the price of {model}.")


@command.command("usage")
@click.option("--trace", "trace_id", default=None, help="A trace id.")
@click.option("--run", "run_id", default=None, help="A run id: its traces.")
@click.option("--model-version", default=None, metavar="NAME/VERSION", help="A model version: its traces.")
@click.option("--prompt-version", default=None, metavar="NAME/VERSION", help="A prompt version: traces that used it.")
@tracking_uri_option
@json_option
def usage(trace_id: str | None, run_id: str | None, model_version: str | None, prompt_version: str | None,
          tracking_uri: str | None, as_json: bool) -> None:
    """Tokens and cost of one trace, run, model version or prompt version, per model."""
    chosen = [x for x in (trace_id, run_id, model_version, prompt_version) if x]
    if len(chosen) != 1:
        raise click.UsageError("Name exactly one of --trace, --run, --model-version, --prompt-version.")
    c = reading_client(tracking_uri)
    if trace_id:
        out = c.trace_usage(trace_id)
    elif run_id:
        out = c.run_usage(run_id)
    else:
        name, sep, version = (model_version or prompt_version or "").rpartition("/")
        if not sep or not name or not version:
            raise click.UsageError("Write the version as NAME/VERSION, e.g. qa-prompt/2.")
        out = c.model_version_usage(name, version) if model_version else c.prompt_version_usage(name, version)
    if as_json:
        echo_json(out)
        return
    echo_table(([m["model"] or "(unknown)", m["input_tokens"], m["cached_input_tokens"], m["output_tokens"],
                 "" if "cost" not in m else f"{m['cost']:.6f} {m['currency']}"] for m in out["models"]),
               ["MODEL", "INPUT", "CACHED INPUT", "OUTPUT", "COST"], empty="No token usage recorded.")
    total = f"{out['cost']:.6f} {out['currency']}" if "cost" in out else "(several currencies)"
    click.echo(f"{out['traces']} traces; {out['input_tokens']} input ({out['cached_input_tokens']} cached), "
               f"{out['output_tokens']} output tokens; cost {total}.")
    if out["unpriced_models"]:
        click.echo(f"No price for: {', '.join(str(m) for m in out['unpriced_models'])} "
                   "(set one with `modelyard prices set`).", err=True)
