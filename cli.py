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


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "target", required=True, type=click.Choice(["fhir", "ccda", "hl7v2"]))
@click.option("--message-type", default=None, help="For --to hl7v2: force ADT^A08, ORM^O01, OML^O21, ORU^R01 ...")
@click.option("--bundle-type", default=None, type=click.Choice(["document", "transaction"]),
              help="For C-CDA to FHIR (default document).")
def convert(file: str, target: str, message_type: str | None, bundle_type: str | None) -> None:
    """Convert one file offline and print the result: HL7v2 or C-CDA to FHIR, FHIR to C-CDA or HL7v2.

    Exit 0 with the output on stdout; exit 1 with the error (a position, no content) on stderr.

    \b
    Example:  hl7bridge convert tests/fixtures/hl7v2/adt_a01.hl7 --to fhir
    """
    from hl7bridge.engine.errors import MessageError
    from hl7bridge.transforms.convert import convert_bytes

    try:
        output = convert_bytes(Path(file).read_bytes(), target, message_type=message_type, bundle_type=bundle_type)
    except MessageError as exc:
        click.echo(f"{file}: error [{type(exc).__name__}] {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(output)


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


from hl7bridge.cli_ops import register_operator_commands  # noqa: E402  (messages, replay, dlq, stats, prune, audit)

register_operator_commands(main, config_option, load, open_store, dump_json)

if __name__ == "__main__":  # pragma: no cover
    main()
