"""The ``hl7bridge`` command: thin argument parsing over the engine.

Every command takes ``--config FILE`` (default ``config/channels.yaml`` or ``$HL7BRIDGE_CONFIG``).
Errors print as ``file:line:col error [code] message``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

EXIT_OK = 0
EXIT_FAILURE = 1          # a test failed, a message was not accepted, a replay did not happen
EXIT_USAGE = 2            # click's own usage errors
EXIT_NOT_FOUND = 3        # no message with that id
EXIT_UNAVAILABLE = 69     # a peer or the store cannot be reached (EX_UNAVAILABLE)
EXIT_CONFIG = 78          # the channel config is invalid (EX_CONFIG)

DEFAULT_CONFIG = "config/channels.yaml"


def config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--config", "config_path", envvar="HL7BRIDGE_CONFIG", default=DEFAULT_CONFIG,
                        show_default=True, type=click.Path(dir_okay=False),
                        help="Channel config file (or $HL7BRIDGE_CONFIG).")(command)


def load(config_path: str) -> Any:
    from hl7bridge.channels.load import load_config
    from hl7bridge.engine.errors import ConfigErrors

    try:
        return load_config(config_path)
    except ConfigErrors as exc:
        for error in exc.errors:
            click.echo(error.render(), err=True)
        sys.exit(EXIT_CONFIG)


def open_store(config_path: str) -> Any:
    from hl7bridge.engine.store import Store

    store = Store(load(config_path).engine.store)
    store.migrate()
    return store


def dump_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hl7bridge")
def main() -> None:
    """hl7bridge: HL7v2 / FHIR / C-CDA interface engine.

    \b
    Example:
      hl7bridge validate
      hl7bridge run --config config/channels.yaml
    """


@main.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@config_option
def validate(file: str | None, config_path: str) -> None:
    """Check a channel config; print each problem as file:line:col error [code] message.

    \b
    Example:  hl7bridge validate config/channels.yaml
    """
    from hl7bridge.channels.load import load_config
    from hl7bridge.engine.errors import ConfigErrors

    path = file or config_path
    try:
        config = load_config(path)
    except ConfigErrors as exc:
        for error in exc.errors:
            click.echo(error.render())
        click.echo(f"\u2717 {path}: {len(exc.errors)} problem(s)")
        sys.exit(EXIT_CONFIG)
    click.echo(f"\u2713 {path}: {len(config.channels)} channel(s) valid")


@main.command()
@config_option
@click.option("--log-level", default=None, type=click.Choice(["debug", "info", "warning", "error"]))
def run(config_path: str, log_level: str | None) -> None:
    """Start the engine: sources listen, workers route and deliver, until SIGTERM.

    \b
    Example:  hl7bridge run --config config/channels.yaml
    """
    from hl7bridge.engine.app import Engine

    config = load(config_path)
    logging.basicConfig(level=(log_level or config.engine.log_level).upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # pika logs connection objects at INFO
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    engine = Engine(config, config_dir=Path(config_path).resolve().parent)
    asyncio.run(engine.run_until_signalled())


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "target", required=True, help="host:port of an MLLP listener.")
@click.option("--tls-ca", default=None, help="CA file to verify the listener (turns TLS on).")
@click.option("--tls-cert", default=None, help="Client certificate for mutual TLS.")
@click.option("--tls-key", default=None, help="Client key for mutual TLS.")
@click.option("--timeout-secs", default=30.0, show_default=True)
@config_option
def send(files: tuple[str, ...], target: str, tls_ca: str | None, tls_cert: str | None, tls_key: str | None,
         timeout_secs: float, config_path: str) -> None:
    """Send HL7v2 files over MLLP and print each ACK code; exit 1 if any was not accepted.

    \b
    Example:  hl7bridge send tests/fixtures/hl7v2/adt_a01.hl7 --to 127.0.0.1:2575
    """
    from hl7bridge.engine.send import send_files

    ok = asyncio.run(send_files(list(files), target, ca=tls_ca, cert=tls_cert, key=tls_key,
                                timeout_secs=timeout_secs, echo=click.echo))
    sys.exit(EXIT_OK if ok else EXIT_FAILURE)


@main.command("test")
@click.argument("path", required=False, type=click.Path())
@config_option
def test_channels(path: str | None, config_path: str) -> None:
    """Run channel test files offline (no broker, no sockets, no store on disk).

    PATH is a test file or a folder of them (default: the config's folder, files *.test.yaml).

    \b
    Example:  hl7bridge test config/
    """
    from hl7bridge.channels.testing import run_channel_tests

    ok = run_channel_tests(path, config_path, echo=click.echo)
    sys.exit(EXIT_OK if ok else EXIT_FAILURE)


@main.group()
def messages() -> None:
    """Find messages and see what happened to them."""


@messages.command("list")
@click.option("--channel", default=None)
@click.option("--status", default=None, help="RECEIVED, FILTERED, TRANSFORMED, QUEUED, DELIVERED, ERRORED, DEAD_LETTERED")
@click.option("--type", "message_type", default=None, help="ADT or ADT^A01")
@click.option("--since", default=None, help="Only the last 90s, 15m, 2h, 7d.")
@click.option("--patient", default=None, help="Patient id (PID-3).")
@click.option("--control-id", default=None, help="MSH-10.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON list, for scripts.")
@config_option
def messages_list(channel: str | None, status: str | None, message_type: str | None, since: str | None,
                  patient: str | None, control_id: str | None, limit: int, as_json: bool, config_path: str) -> None:
    """List messages, newest first.

    \b
    Example:  hl7bridge messages list --channel adt --status DEAD_LETTERED --since 2h
    """
    from hl7bridge.engine.queries import MessageFilter, list_messages, parse_since

    try:
        since_secs = parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    flt = MessageFilter(channel, status, message_type, since_secs, patient, control_id, limit)
    store = open_store(config_path)
    rows = store.read_sync(lambda c: list_messages(c, flt))
    store.dispose()
    if as_json:
        dump_json(rows)
        return
    from hl7bridge.engine.render import message_table

    message_table(rows)


@messages.command("show")
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True)
@click.option("--content", type=click.Choice(["raw", "transformed", "sent", "response"]), default=None,
              help="Also print this content (PHI).")
@config_option
def messages_show(message_id: str, as_json: bool, content: str | None, config_path: str) -> None:
    """Show a message's metadata and each destination's attempts.

    \b
    Example:  hl7bridge messages show 01JD3Z6Q8W4N5M2K7P9R1T3V5X --json
    """
    from hl7bridge.engine.queries import message_content, show_message

    store = open_store(config_path)
    data = store.read_sync(lambda c: show_message(c, message_id))
    if data is None:
        click.echo(f"error [not-found] no message with id {message_id}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    if content:
        data["content"] = [b.decode("utf-8", "replace") for b in
                           store.read_sync(lambda c: message_content(c, message_id, content))]
    store.dispose()
    if as_json:
        dump_json(data)
        return
    from hl7bridge.engine.render import message_detail

    message_detail(data)


@main.command()
@click.argument("message_ids", nargs=-1, required=True)
@click.option("--destination", "destinations", multiple=True, help="Only to this destination (repeatable).")
@click.option("--from", "source", type=click.Choice(["raw", "transformed"]), default="raw", show_default=True)
@config_option
def replay(message_ids: tuple[str, ...], destinations: tuple[str, ...], source: str, config_path: str) -> None:
    """Run stored messages through their channel again, as new deliveries.

    \b
    Example:  hl7bridge replay 01JD3Z6Q8W4N5M2K7P9R1T3V5X --destination patient_service
    """
    from hl7bridge.engine.queries import request_replay

    store = open_store(config_path)
    failed = 0
    for message_id in message_ids:
        ok = store.write_sync(lambda c: request_replay(c, message_id, destinations=list(destinations), source=source))
        click.echo(f"{message_id} {'queued for replay' if ok else 'not found'}")
        failed += 0 if ok else 1
    store.dispose()
    sys.exit(EXIT_OK if not failed else EXIT_NOT_FOUND)


@main.group()
def dlq() -> None:
    """Dead letters: deliveries that failed for good."""


@dlq.command("list")
@click.option("--channel", default=None)
@click.option("--destination", default=None)
@click.option("--json", "as_json", is_flag=True)
@config_option
def dlq_list(channel: str | None, destination: str | None, as_json: bool, config_path: str) -> None:
    """List dead letters with their reason and attempt history.

    \b
    Example:  hl7bridge dlq list --channel adt --json
    """
    from hl7bridge.engine.queries import dead_letters

    store = open_store(config_path)
    rows = store.read_sync(lambda c: dead_letters(c, channel, destination))
    store.dispose()
    if as_json:
        dump_json(rows)
        return
    from hl7bridge.engine.render import dead_letter_table

    dead_letter_table(rows)


@dlq.command("replay")
@click.option("--channel", default=None)
@click.option("--destination", default=None)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@config_option
def dlq_replay(channel: str | None, destination: str | None, yes: bool, config_path: str) -> None:
    """Send dead letters again, each as a new delivery linked to the dead one.

    \b
    Example:  hl7bridge dlq replay --channel adt --destination patient_service --yes
    """
    from hl7bridge.engine.queries import dead_letters, replay_dead_letter

    store = open_store(config_path)
    rows = store.read_sync(lambda c: dead_letters(c, channel, destination))
    if not rows:
        click.echo("no dead letters match")
        return
    if not yes and not click.confirm(f"Replay {len(rows)} dead letter(s)?"):
        sys.exit(EXIT_FAILURE)
    replayed = sum(1 for row in rows if store.write_sync(lambda c: replay_dead_letter(c, row)))
    store.dispose()
    click.echo(f"{replayed} dead letter(s) queued for replay")

if __name__ == "__main__":  # pragma: no cover
    main()
