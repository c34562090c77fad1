"""``lbb``: run the whole system locally, migrate schemas."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lbb.devstack import Stack
from lbb.schemas import HISTORY
from shared.migrations import upgrade
from shared.registry import DEFAULT_PORTS, SCHEMA_SERVICES
from shared.settings import Settings

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
    cohort_id: Annotated[str, typer.Argument(help="The cohort to report on (or --programme)")] = "",
    programme: Annotated[
        str, typer.Option("--programme", help="Print the report across every cohort of this programme instead")
    ] = "",
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
    """Write the cohort evaluation report as an HTML page with charts; with ``--programme``, print the
    report across the programme's cohorts (a table per measure, a cohort per column, the totals) and
    write its JSON into ``--out``."""
    from lbb import report as cohort_report

    if programme:
        _programme_report(programme, out, gateway, token, from_json)
        return
    if not cohort_id:
        console.print("[red]give a cohort id, or --programme NAME[/]")
        raise typer.Exit(2)

    try:
        data = (
            json.loads(from_json.read_text()) if from_json else cohort_report.fetch(gateway, cohort_id, token or None)
        )
    except (RuntimeError, OSError, ValueError) as exc:
        console.print(f"[red]could not get the report:[/] {exc}")
        raise typer.Exit(1) from exc
    page = cohort_report.render(data, out)
    console.print(f"report written to {page}")


def _programme_report(programme: str, out: Path, gateway: str, token: str, from_json: Path | None) -> None:
    """Print the report across a programme's cohorts as the staff page shows it (the same tables)."""
    from lbb import report as cohort_report
    from services.gateway.programme_report import tables

    try:
        data = (
            json.loads(from_json.read_text())
            if from_json
            else cohort_report.fetch_programme(gateway, programme, token or None)
        )
    except (RuntimeError, OSError, ValueError) as exc:
        console.print(f"[red]could not get the report:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"Evaluation report: {data['programme']} ({len(data['cohorts'])} cohorts and the totals)")
    console.print(f"Small numbers are suppressed: {data['suppression']}")
    for found in tables(data):
        table = Table(title=found["title"])
        table.add_column("Measure")
        for name in found["header"]:
            table.add_column(name, justify="right")
        for row in found["rows"]:
            table.add_row(*row)
        console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "programme_report.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    console.print(f"report written to {out / 'programme_report.json'}")


schemas = typer.Typer(help="Event schema compatibility (BACKWARD_TRANSITIVE).", no_args_is_help=True)
app.add_typer(schemas, name="schemas")


@schemas.command("check")
def schemas_check(
    history: Annotated[Path, typer.Option(help="The committed revisions: <Event>/v<major>/<n>.json")] = HISTORY,
) -> None:
    """Fail when an event's schema, as the code generates it, would break a subscriber of any committed
    revision (a removed or renamed field, a changed type, a new required field, a narrowed enum, a
    removed event type), or when a compatible change has not been recorded."""
    from lbb.schemas import check

    report = check(history)
    if report.problems:
        table = Table(title="Breaking schema changes", show_lines=False)
        for column in ("event", "against", "field", "why"):
            table.add_column(column)
        for p in report.problems:
            table.add_row(p.event, p.version, p.field, p.why)
        console.print(table)
        console.print(
            "[red]A change that must break gets a new type and topic (…/v2): see docs/events.md, Compatibility.[/]"
        )
    for key in report.unrecorded if not report.problems else []:  # a breaking change is to undo, not record
        console.print(
            f"[yellow]{key}: not recorded yet (a new event or a compatible change)[/]: run `lbb schemas record`"
        )
    if not report.ok:
        raise typer.Exit(1)
    console.print(f"[green]schemas compatible[/]: {report.checked} committed revisions checked")


@schemas.command("record")
def schemas_record(
    history: Annotated[Path, typer.Option(help="The committed revisions: <Event>/v<major>/<n>.json")] = HISTORY,
) -> None:
    """Keep each compatible change as its event's next revision (refused when any change breaks)."""
    from lbb.schemas import record

    try:
        written = record(history)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]: see `lbb schemas check`")
        raise typer.Exit(1) from exc
    for path in written:
        console.log(f"wrote {path}")
    if not written:
        console.print("nothing changed")


dlq = typer.Typer(help="Dead letters: list, show, replay after a fix, purge.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")

TopicArg = Annotated[str, typer.Argument(help="The topic (lbb.pairing.v1) or its dead-letter topic (….dlq)")]
BootstrapOpt = Annotated[
    str, typer.Option("--bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka (and KAFKA_SASL_*)")
]


def _kafka(bootstrap_servers: str) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap_servers)


@dlq.command("list")
def dlq_list(topic: TopicArg, bootstrap_servers: BootstrapOpt = "127.0.0.1:9092") -> None:
    """How many dead letters, by consumer group, event type and error class, first and last time."""
    from lbb import dlq as dead

    letters = asyncio.run(dead.read(_kafka(bootstrap_servers), topic))
    table = Table(title=f"{dead.dlq_topic(topic)}: {len(letters)} dead letters")
    for column in ("consumer", "type", "error class", "count", "first", "last"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for row in dead.summarise(letters):
        table.add_row(
            row.consumer, row.type, row.error_class, str(row.count), f"{row.first:%F %T}", f"{row.last:%F %T}"
        )
    console.print(table)


@dlq.command("show")
def dlq_show(
    topic: TopicArg,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Envelope id or partition:offset (repeatable)")] = None,
    bootstrap_servers: BootstrapOpt = "127.0.0.1:9092",
) -> None:
    """Each dead letter: where, when, its envelope id and type, who dead-lettered it and why; with --id,
    its headers and the message itself."""
    from lbb import dlq as dead

    letters = dead.select(asyncio.run(dead.read(_kafka(bootstrap_servers), topic)), ids or ())
    table = Table(title=f"{dead.dlq_topic(topic)}: {len(letters)} shown")
    for column in ("at", "time", "id", "type", "consumer", "error"):
        table.add_column(column, overflow="fold")
    for x in letters:
        table.add_row(x.position, f"{x.time:%F %T}", x.id or "-", x.type, x.consumer, x.error)
    console.print(table)
    for x in letters if ids else []:
        console.rule(f"{x.position} {x.id or ''}")
        console.print_json(json.dumps(x.headers))
        envelope = x.envelope
        if envelope is not None:
            console.print_json(json.dumps(envelope))
        else:
            console.print(repr(x.value))


@dlq.command("replay")
def dlq_replay(
    topic: TopicArg,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="Envelope id or partition:offset (default: all)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be replayed; send nothing")] = False,
    bootstrap_servers: BootstrapOpt = "127.0.0.1:9092",
) -> None:
    """Put dead letters back on their original topic, byte for byte (same envelope id: each consumer's
    inbox applies it at most once). Purge them afterwards with `lbb dlq purge`."""
    from rich.progress import Progress

    from lbb import dlq as dead

    settings = _kafka(bootstrap_servers)
    chosen, skipped = dead.replayable(dead.select(asyncio.run(dead.read(settings, topic)), ids or ()))
    for x in skipped:
        console.print(f"[yellow]skipped {x.position}[/]: not an envelope (replaying it would dead-letter it again)")
    if dry_run:
        for x in chosen:
            console.print(f"would replay {x.position} {x.id} {x.type} → {x.source_topic}")
        console.print(f"dry run: {len(chosen)} to replay, {len(skipped)} skipped")
        return
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replaying", total=len(chosen))
        sent = asyncio.run(dead.replay(settings, chosen, lambda _: progress.advance(task)))
    console.print(f"[green]replayed {sent}[/], skipped {len(skipped)}")


@dlq.command("purge")
def dlq_purge(
    topic: TopicArg,
    before: Annotated[str, typer.Option(help="ISO 8601 time (UTC if no zone) or an age: 30m, 2h, 7d")],
    bootstrap_servers: BootstrapOpt = "127.0.0.1:9092",
) -> None:
    """Forget the dead letters older than --before: the lbb-ops-dlq group's offsets move past them (Kafka
    deletes no single record; where the broker can, they are deleted up to there too)."""
    from lbb import dlq as dead

    try:
        when = dead.parse_time(before)
    except ValueError as exc:
        raise typer.BadParameter(f"not a time or an age: {before!r}") from exc
    purged = asyncio.run(dead.purge(_kafka(bootstrap_servers), topic, when))
    marks = ", ".join(f"partition {p} from offset {o}" for p, o in sorted(purged.watermarks.items()))
    how = "deleted by the broker" if purged.deleted else "left to the topic's retention (no DeleteRecords here)"
    console.print(f"purged {purged.count} dead letters before {when:%F %T%z}" + (f": {marks}; {how}" if marks else ""))


privacy = typer.Typer(help="Subject access and erasure: what the system holds about a person.", no_args_is_help=True)
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


@privacy.command("erase")
def privacy_erase(
    email: Annotated[str, typer.Argument(help="The e-mail address the person applied with")],
    gateway: Annotated[str, typer.Option(envvar="LBB_GATEWAY_URL", help="Gateway base URL")] = (
        f"http://127.0.0.1:{DEFAULT_PORTS['gateway']}"
    ),
    token: Annotated[str, typer.Option(envvar="LBB_TOKEN", help="Bearer token of an admin (dev mode: optional)")] = "",
    wait: Annotated[float, typer.Option(help="Seconds to wait for every service to confirm (0: do not wait)")] = 60,
) -> None:
    """Erase one person in every service and show which services have confirmed."""
    from lbb import privacy as subject_access

    try:
        status = subject_access.erase(gateway, email, token or None, wait_s=wait)
    except RuntimeError as exc:
        console.print(f"[red]could not erase:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"erasure {status['id']}")
    for service, at in status["services"].items():
        console.print(f"  {service}: {'erased ' + at if at else 'not yet'}")
    if not status["complete"]:
        raise typer.Exit(2 if wait else 0)


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
