"""Operator commands: messages, replay, dlq, stats, prune, audit.  Thin: options in, engine calls out.

Everything that reads content or changes state writes an audit record (engine/audit.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from hl7bridge.engine import audit
from hl7bridge.engine.queries import MessageFilter, parse_since, parse_time

EXIT_OK, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_UNAVAILABLE = 0, 1, 3, 69
STATUSES = "RECEIVED, FILTERED, TRANSFORMED, QUEUED, DELIVERED, ERRORED, DEAD_LETTERED"


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--channel", default=None),
        click.option("--status", default=None, help=STATUSES),
        click.option("--type", "message_type", default=None, help="ADT or ADT^A01"),
        click.option("--since", default=None, help="Only the last 90s, 15m, 2h, 7d."),
        click.option("--from", "from_", default=None, help="Received at or after (ISO 8601)."),
        click.option("--until", default=None, help="Received before (ISO 8601)."),
        click.option("--patient", default=None, help="Patient id (PID-3.1)."),
        click.option("--control-id", default=None, help="MSH-10."),
        click.option("--sender", default=None, help="MSH-3 or MSH-4."),
        click.option("--destination-of", "destination_of", default=None, help="Has a delivery to this destination."),
        click.option("--error", "error_text", default=None, help="Error text contains this."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_filter(o: dict[str, Any], limit: int, before: str | None = None) -> MessageFilter:
    try:
        since = parse_since(o["since"]) if o["since"] else None
        from_ts = parse_time(o["from_"]) if o["from_"] else None
        until = parse_time(o["until"]) if o["until"] else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return MessageFilter(channel=o["channel"], status=o["status"], message_type=o["message_type"], since_secs=since,
                         patient_id=o["patient"], control_id=o["control_id"], limit=limit, sender=o["sender"],
                         destination=o["destination_of"], error_text=o["error_text"], from_ts=from_ts,
                         until_ts=until, before=before)


FILTER_KEYS = ("channel", "status", "message_type", "since", "from_", "until", "patient", "control_id", "sender",
               "destination_of", "error_text")


def register_operator_commands(main: click.Group, config_option: Callable[..., Any], load: Callable[[str], Any],
                               open_store: Callable[[str], Any], dump_json: Callable[[Any], None]) -> None:
    actor_option = click.option("--actor", default=None, help="Who is acting, for the audit trail (default: OS user).")

    @main.group()
    def messages() -> None:
        """Find messages and see what happened to them."""

    @messages.command("list")
    @filter_options
    @click.option("--limit", default=50, show_default=True, help="Page size.")
    @click.option("--before", default=None, help="Page after this message id (the last id of the previous page).")
    @click.option("--json", "as_json", is_flag=True, help="A JSON list, for scripts.")
    @config_option
    def messages_list(limit: int, before: str | None, as_json: bool, config_path: str, **o: Any) -> None:
        """List messages, newest first.

        \\b
        Example:  hl7bridge messages list --channel adt --status DEAD_LETTERED --since 2h
        """
        from hl7bridge.engine.queries import list_messages
        from hl7bridge.engine.render import message_table

        store = open_store(config_path)
        rows = store.read_sync(lambda c: list_messages(c, build_filter(o, limit, before)))
        store.dispose()
        if as_json:
            dump_json(rows)
            return
        message_table(rows)
        if len(rows) == limit:
            click.echo(f"next page: --before {rows[-1]['id']}")

    main.add_command(messages_list, "search")

    @messages.command("show")
    @click.argument("message_id")
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--content", type=click.Choice(["raw", "transformed", "sent", "response"]), default=None,
                  help="Also print this content (PHI; the read is audited).")
    @actor_option
    @config_option
    def messages_show(message_id: str, as_json: bool, content: str | None, actor: str | None,
                      config_path: str) -> None:
        """Show a message's metadata, each destination's attempts, and its replays.

        \\b
        Example:  hl7bridge messages show 01JD3Z6Q8W4N5M2K7P9R1T3V5X --content raw
        """
        from hl7bridge.engine.queries import message_content, show_message
        from hl7bridge.engine.render import message_detail

        store = open_store(config_path)
        data = store.read_sync(lambda c: show_message(c, message_id))
        if data is None:
            click.echo(f"error [not-found] no message with id {message_id}", err=True)
            sys.exit(EXIT_NOT_FOUND)
        if content:
            store.write_sync(lambda c: audit.record(c, audit.current_actor(actor), "show_content", [message_id],
                                                    {"kind": content}))
            data["content"] = [b.decode("utf-8", "replace")
                               for b in store.read_sync(lambda c: message_content(c, message_id, content))]
        store.dispose()
        dump_json(data) if as_json else message_detail(data)

    @main.command()
    @click.argument("message_ids", nargs=-1)
    @filter_options
    @click.option("--destination", "destinations", multiple=True, help="Only to this destination (repeatable).")
    @click.option("--from-content", "source", type=click.Choice(["raw", "transformed"]), default="raw",
                  show_default=True, help="Run the steps again on the raw message, or resend the transformed one.")
    @click.option("--dry-run", is_flag=True, help="Show what would be replayed and where; send nothing.")
    @click.option("--rate", default=None, type=float, help="At most this many messages per second.")
    @click.option("--limit", default=1000, show_default=True, help="At most this many messages for a filter.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @actor_option
    @config_option
    def replay(message_ids: tuple[str, ...], destinations: tuple[str, ...], source: str, dry_run: bool,
               rate: float | None, limit: int, yes: bool, actor: str | None, config_path: str, **o: Any) -> None:
        """Run stored messages through their channel again, as new deliveries linked to the old.

        Pick messages by id or by the same filters as `messages list`.

        \\b
        Example:  hl7bridge replay --channel adt --status DEAD_LETTERED --since 1d --rate 20 --dry-run
        """
        from hl7bridge.engine import replay as replays
        from hl7bridge.engine.queries import message_ids as find_ids

        if not message_ids and not any(o[k] for k in FILTER_KEYS):
            raise click.UsageError("name message ids, or at least one filter such as --channel or --since")
        config, store = load(config_path), open_store(config_path)
        ids = list(message_ids) or store.read_sync(lambda c: find_ids(c, build_filter(o, limit)))
        items = [store.read_sync(lambda c, i=i: replays.plan(c, config, i, destinations=list(destinations),
                                                              source=source)) for i in ids]
        run_replay(store, items, source=source, dry_run=dry_run, rate=rate, yes=yes, actor=actor, what="replay")

    def run_replay(store: Any, items: list[Any], *, source: str, dry_run: bool, rate: float | None, yes: bool,
                   actor: str | None, what: str) -> None:
        from rich.progress import Progress

        from hl7bridge.engine import replay as replays

        ready = [i for i in items if i.refused is None]
        for item in items:
            if item.refused or dry_run:
                verdict = f"refused: {item.refused}" if item.refused else f"-> {', '.join(item.destinations)}"
                click.echo(f"{item.message_id} {item.channel} {verdict}")
        if dry_run:
            click.echo(f"dry run: {len(ready)} message(s) would be replayed, {len(items) - len(ready)} refused")
            store.dispose()
            return
        if ready and not yes and not click.confirm(f"Replay {len(ready)} message(s)?"):
            sys.exit(EXIT_FAILURE)
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task(what, total=len(ready))
            for number, item in enumerate(ready):
                if rate and number:
                    time.sleep(1.0 / rate)  # pacing the replay, not synchronising anything
                store.write_sync(lambda c, item=item: replays.enqueue(c, item, source=source))
                progress.advance(task)
        if ready:
            store.write_sync(lambda c: audit.record(c, audit.current_actor(actor), what,
                                                    [i.message_id for i in ready],
                                                    {"destinations": sorted({d for i in ready for d in i.destinations}),
                                                     "from": source}))
        store.dispose()
        click.echo(f"{len(ready)} message(s) queued for replay, {len(items) - len(ready)} refused")
        sys.exit(EXIT_OK if len(ready) == len(items) else EXIT_FAILURE)

    @main.group()
    def dlq() -> None:
        """Dead letters: deliveries that failed for good."""

    def dlq_filters(command: Callable[..., Any]) -> Callable[..., Any]:
        return click.option("--channel", default=None)(click.option("--destination", default=None)(command))

    @dlq.command("list")
    @dlq_filters
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    def dlq_list(channel: str | None, destination: str | None, as_json: bool, config_path: str) -> None:
        """List dead letters with their reason and attempt history.

        \\b
        Example:  hl7bridge dlq list --channel adt --json
        """
        from hl7bridge.engine.queries import dead_letters
        from hl7bridge.engine.render import dead_letter_table

        store = open_store(config_path)
        rows = store.read_sync(lambda c: dead_letters(c, channel, destination))
        store.dispose()
        dump_json(rows) if as_json else dead_letter_table(rows)

    @dlq.command("show")
    @click.argument("delivery_id")
    @config_option
    def dlq_show(delivery_id: str, config_path: str) -> None:
        """Show one dead letter: reason, attempt history, replays (JSON).

        \\b
        Example:  hl7bridge dlq show 01JD3Z6Q8W4N5M2K7P9R1T3V5X
        """
        from hl7bridge.engine.queries import dead_letter

        store = open_store(config_path)
        entry = store.read_sync(lambda c: dead_letter(c, delivery_id))
        store.dispose()
        if entry is None:
            click.echo(f"error [not-found] no delivery with id {delivery_id}", err=True)
            sys.exit(EXIT_NOT_FOUND)
        dump_json(entry)

    @dlq.command("replay")
    @dlq_filters
    @click.option("--dry-run", is_flag=True)
    @click.option("--rate", default=None, type=float, help="At most this many per second.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @actor_option
    @config_option
    def dlq_replay(channel: str | None, destination: str | None, dry_run: bool, rate: float | None, yes: bool,
                   actor: str | None, config_path: str) -> None:
        """Send dead letters again, each as a new delivery linked to the dead one.

        \\b
        Example:  hl7bridge dlq replay --channel adt --destination patient_service --yes
        """
        from hl7bridge.engine import replay as replays
        from hl7bridge.engine.queries import dead_letters

        config, store = load(config_path), open_store(config_path)
        rows = store.read_sync(lambda c: dead_letters(c, channel, destination))
        items = [store.read_sync(lambda c, r=r: replays.plan(
            c, config, r["message_id"], destinations=[r["destination"]], source="raw",
            replay_of={r["destination"]: r["id"]})) for r in rows]
        if not items:
            click.echo("no dead letters match")
            return
        run_replay(store, items, source="raw", dry_run=dry_run, rate=rate, yes=yes, actor=actor, what="dlq_replay")

    @dlq.command("purge")
    @dlq_filters
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @actor_option
    @config_option
    def dlq_purge(channel: str | None, destination: str | None, yes: bool, actor: str | None,
                  config_path: str) -> None:
        """Drop dead letters from the dead-letter queues (their history stays searchable).

        \\b
        Example:  hl7bridge dlq purge --channel adt --destination billing --yes
        """
        from hl7bridge.engine.queries import dead_letters, purge_dead_letters

        store = open_store(config_path)
        rows = store.read_sync(lambda c: dead_letters(c, channel, destination))
        if not rows:
            click.echo("no dead letters match")
            return
        if not yes and not click.confirm(f"Purge {len(rows)} dead letter(s)?"):
            sys.exit(EXIT_FAILURE)
        ids = [r["id"] for r in rows]

        def purge(connection: Any) -> int:
            audit.record(connection, audit.current_actor(actor), "dlq_purge", ids,
                         {"channel": channel, "destination": destination})
            return purge_dead_letters(connection, ids)

        count = store.write_sync(purge)
        store.dispose()
        click.echo(f"{count} dead letter(s) purged")

    from hl7bridge.cli_admin import register_admin_commands

    register_admin_commands(main, config_option, load, open_store, dump_json, actor_option)
