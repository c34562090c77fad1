"""``lbb``: run the whole system locally, migrate schemas."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lbb.devstack import Stack
from shared.migrations import upgrade
from shared.registry import DEFAULT_PORTS, SCHEMA_SERVICES

app = typer.Typer(help="Beyond Boundaries: cross-organisational leadership programmes for ICSs.", no_args_is_help=True)
console = Console()


@app.command()
def dev(
    home: Annotated[
        Path, typer.Option(help="Where the embedded database and logs live (delete it to start afresh)")
    ] = Path(".lbb"),
    port: Annotated[int, typer.Option(help="Gateway port")] = DEFAULT_PORTS["gateway"],
) -> None:
    """Start everything: broker, PostgreSQL, migrations, demo data, services and gateway. Ctrl-C stops."""
    stack = Stack(
        home=home.resolve(),
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        database_url=os.environ.get("DATABASE_URL"),
        smtp_host=os.environ.get("SMTP_HOST"),
        smtp_port=int(os.environ.get("SMTP_PORT", "25")),
        ports={**DEFAULT_PORTS, "gateway": port},
    )
    stop = threading.Event()
    # Ctrl-C and SIGTERM both stop cleanly, even where SIGINT arrives ignored (background jobs).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with console.status("starting Beyond Boundaries…") as status:

            def say(line: str) -> None:
                console.log(line)
                status.update(line)

            stack.start(say=say)
        console.print(
            f"[bold green]Beyond Boundaries is up:[/] gateway {stack.gateway_url}  "
            f"(API docs {stack.gateway_url}/docs, health {stack.gateway_url}/api/health)\n"
            f"logs in {stack.log_dir}; press Ctrl-C to stop"
        )
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        stack.stop()
        console.print("stopped")


@app.command()
def migrate(
    services: Annotated[list[str] | None, typer.Argument(help="Services to migrate (default: all)")] = None,
    database_url: Annotated[str, typer.Option(envvar="DATABASE_URL", help="postgresql+asyncpg://…")] = "",
) -> None:
    """Apply each service's Alembic migrations to its own schema."""
    if not database_url:
        raise typer.BadParameter("set DATABASE_URL or --database-url")
    for service in services or SCHEMA_SERVICES:
        upgrade(service, database_url)
        console.log(f"{service}: at head")


@app.command()
def asyncapi(
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("docs/asyncapi"),
) -> None:
    """Write each service's AsyncAPI document and a JSON Schema per event, generated from the code."""
    from lbb.asyncapi import write

    for path in write(out):
        console.log(f"wrote {path}")


@app.command()
def report(
    cohort_id: Annotated[str, typer.Argument(help="The cohort to report on")],
    out: Annotated[Path, typer.Option(help="Directory for index.html, its SVG charts and report.json")] = Path(
        "report"
    ),
    gateway: Annotated[str, typer.Option(envvar="LBB_GATEWAY_URL", help="Gateway base URL")] = (
        f"http://127.0.0.1:{DEFAULT_PORTS['gateway']}"
    ),
    token: Annotated[
        str, typer.Option(envvar="LBB_TOKEN", help="Bearer token of a board or admin user (dev mode: optional)")
    ] = "",
    from_json: Annotated[
        Path | None, typer.Option("--from-json", help="Render a saved report.json instead of asking the gateway")
    ] = None,
) -> None:
    """Write the cohort evaluation report as an HTML page with charts."""
    from lbb import report as cohort_report

    try:
        data = (
            json.loads(from_json.read_text()) if from_json else cohort_report.fetch(gateway, cohort_id, token or None)
        )
    except (RuntimeError, OSError, ValueError) as exc:
        console.print(f"[red]could not get the report:[/] {exc}")
        raise typer.Exit(1) from exc
    page = cohort_report.render(data, out)
    console.print(f"report written to {page}")


privacy = typer.Typer(help="Subject access: what the system holds about a person.", no_args_is_help=True)
app.add_typer(privacy, name="privacy")


@privacy.command("export")
def privacy_export(
    email: Annotated[str, typer.Argument(help="The e-mail address the person applied with")],
    out: Annotated[Path, typer.Option(help="Directory for export.json and index.html")] = Path("export"),
    gateway: Annotated[str, typer.Option(envvar="LBB_GATEWAY_URL", help="Gateway base URL")] = (
        f"http://127.0.0.1:{DEFAULT_PORTS['gateway']}"
    ),
    token: Annotated[str, typer.Option(envvar="LBB_TOKEN", help="Bearer token of an admin (dev mode: optional)")] = "",
) -> None:
    """Everything every service holds about one person, as JSON and a readable page."""
    from lbb import privacy as subject_access

    try:
        data = subject_access.fetch(gateway, email, token or None)
    except RuntimeError as exc:
        console.print(f"[red]could not export:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"export written to {subject_access.write(data, out)}")


deliveries = typer.Typer(help="E-mails whose outcome is unknown, and sending one again.", no_args_is_help=True)
app.add_typer(deliveries, name="deliveries")
GatewayOption = Annotated[str, typer.Option(envvar="LBB_GATEWAY_URL", help="Gateway base URL")]
AdminToken = Annotated[str, typer.Option(envvar="LBB_TOKEN", help="Bearer token of an admin (dev mode: optional)")]
GATEWAY_URL = f"http://127.0.0.1:{DEFAULT_PORTS['gateway']}"


@deliveries.command("unconfirmed")
def deliveries_unconfirmed(gateway: GatewayOption = GATEWAY_URL, token: AdminToken = "") -> None:
    """List deliveries whose sender stopped while handing them over: the SMTP server may have them."""
    from lbb import deliveries as operator

    try:
        rows = operator.unconfirmed(gateway, token or None)
    except RuntimeError as exc:
        console.print(f"[red]could not list them:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(operator.table(rows))
    if rows:
        console.print(
            "Ask the mail system first whether it has the Message-ID (the delivery id at the Message-ID domain);"
            " `lbb deliveries resend ID` sends one again."
        )


@deliveries.command("resend")
def deliveries_resend(
    delivery_id: Annotated[str, typer.Argument(help="The unconfirmed delivery's id")],
    gateway: GatewayOption = GATEWAY_URL,
    token: AdminToken = "",
) -> None:
    """Send an unconfirmed delivery again, with the same Message-ID (only on an operator's word)."""
    from lbb import deliveries as operator

    try:
        operator.resend(gateway, delivery_id, token or None)
    except RuntimeError as exc:
        console.print(f"[red]not resent:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"delivery {delivery_id} is queued to be sent again (same Message-ID)")


if __name__ == "__main__":
    app()
