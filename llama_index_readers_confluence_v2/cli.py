"""`confluence-v2`: thin command line over the library (parse, show progress, print)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .errors import ConfluenceError

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(command: F) -> F:
    """Library errors become one line and exit code 1; `--debug` shows the traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfluenceError as error:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """Import Confluence Cloud into RAG collections."""


@main.command()
@click.option("--pages", default=200, show_default=True, help="Size of the generated site.")
@click.option("--space", default="DOCS", show_default=True, help="Space key to import.")
@_clean_errors
def demo(pages: int, space: str) -> None:
    """Run the bundled Confluence emulator and import a space from it, offline."""
    from .emulator import Emulator
    from .reader import ConfluenceReader

    emulator = Emulator(pages=pages)
    account = emulator.user()
    with emulator.serve():
        click.echo(f"Emulated Confluence site at {emulator.base_url} ({pages} pages)")
        reader = ConfluenceReader(
            emulator.base_url,
            user_name=account.email,
            api_token=account.api_token,
            api_gateway_url=emulator.gateway_url,
            auth_server_url=emulator.auth_url,
        )
        documents = reader.load_data(space_key=space, show_progress=sys.stderr.isatty())
    report = reader.last_report
    click.echo(
        f"Imported {report.pages} pages from space {space} in {report.requests} API requests "
        f"({len(report.failures)} failed)"
    )
    for document in documents[:5]:
        click.echo(f"  {document.metadata['path']}")
    if documents:
        click.echo("\nFirst page, as Markdown:\n")
        click.echo(documents[0].text[:600])
