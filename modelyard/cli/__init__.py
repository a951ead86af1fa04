"""The ``modelyard`` command: a thin shell over the SDK and the server."""

from __future__ import annotations

import click

from .. import __version__
from .server import server, ui


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="modelyard")
def main() -> None:
    """modelyard: track, register, serve and monitor models."""


main.add_command(server)
main.add_command(ui)

for _name in ("experiments", "runs", "quickstart", "models", "webhooks", "serve", "predict", "pipelines", "importer",
              "db", "gc", "users", "monitor", "promote", "prices", "workspaces"):
    try:
        _module = __import__(f"modelyard.cli.{_name}", fromlist=["command"])
    except ModuleNotFoundError as exc:  # a command not written yet; anything else is a real error
        if exc.name != f"modelyard.cli.{_name}":
            raise
        continue
    main.add_command(_module.command)

from .promote import promotion  # noqa: E402  (the promote module's other group)
from .users import groups, permissions, tokens  # noqa: E402  (the users module's other groups)

main.add_command(tokens)
main.add_command(permissions)
main.add_command(groups)
main.add_command(promotion)
