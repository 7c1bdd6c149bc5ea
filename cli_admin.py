"""Administration commands: stats, prune, audit, completion."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from hl7bridge.engine import audit

EXIT_OK, EXIT_FAILURE, EXIT_UNAVAILABLE = 0, 1, 69


def register_admin_commands(main: click.Group, config_option: Callable[..., Any], load: Callable[[str], Any],
                            open_store: Callable[[str], Any], dump_json: Callable[[Any], None],
                            actor_option: Callable[..., Any]) -> None:
    @main.command()
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--watch", is_flag=True, help="Refresh every --interval-secs until interrupted.")
    @click.option("--interval-secs", default=2.0, show_default=True)
    @config_option
    def stats(as_json: bool, watch: bool, interval_secs: float, config_path: str) -> None:
        """Per channel and destination: received, filtered, delivered, errored, dead-lettered, queued, ages.

        \\b
        Example:  hl7bridge stats --watch
        """
        from hl7bridge.engine.render import stats_table

        config, store = load(config_path), open_store(config_path)
        if not watch:
            report = collect_stats(config, store)
            dump_json(report) if as_json else stats_table(report)
            store.dispose()
            return
        from rich.live import Live

        with Live(stats_table(collect_stats(config, store), render=False), refresh_per_second=1) as live:
            try:
                while True:
                    time.sleep(interval_secs)  # a display refresh interval
                    live.update(stats_table(collect_stats(config, store), render=False))
            except KeyboardInterrupt:
                pass
        store.dispose()

    @main.command()
    @click.option("--dry-run", is_flag=True, help="Count what would be pruned; change nothing.")
    @actor_option
    @config_option
    def prune(dry_run: bool, actor: str | None, config_path: str) -> None:
        """Apply each channel's retention: remove content, then metadata, of settled messages.

        \\b
        Example:  hl7bridge prune --dry-run
        """
        from rich.progress import Progress

        from hl7bridge.engine import retention

        config, store = load(config_path), open_store(config_path)
        plans = [p for p in store.read_sync(lambda c: retention.plans(c, config)) if p.count]
        for plan in plans:
            click.echo(f"{plan.channel}: {plan.count} message(s) past {plan.kind} retention")
        if dry_run or not plans:
            click.echo("dry run: nothing changed" if dry_run else "nothing to prune")
            store.dispose()
            return
        with Progress(disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("pruning", total=sum(p.count for p in plans))
            done = sum(retention.run_plan(store.write_sync, plan, lambda n: progress.advance(task, n))
                       for plan in plans)
        store.write_sync(lambda c: audit.record(c, audit.current_actor(actor), "prune", [],
                                                {"pruned": {f"{p.channel}:{p.kind}": p.count for p in plans}}))
        store.dispose()
        click.echo(f"{done} message(s) pruned")

    @main.group("audit")
    def audit_group() -> None:
        """The audit trail of content reads and state changes."""

    @audit_group.command("list")
    @click.option("--limit", default=100, show_default=True)
    @click.option("--action", default=None, help="show_content, replay, dlq_replay, dlq_purge, prune")
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    def audit_list(limit: int, action: str | None, as_json: bool, config_path: str) -> None:
        """List audit records, newest first.

        \\b
        Example:  hl7bridge audit list --action replay --json
        """
        from hl7bridge.engine.render import audit_table

        store = open_store(config_path)
        rows = store.read_sync(lambda c: audit.entries(c, limit=limit, action=action))
        store.dispose()
        dump_json(rows) if as_json else audit_table(rows)

    @audit_group.command("verify")
    @config_option
    def audit_verify(config_path: str) -> None:
        """Check the audit trail's hash chain; exit 1 if any record was changed, removed or reordered.

        \\b
        Example:  hl7bridge audit verify
        """
        store = open_store(config_path)
        verdict = store.read_sync(audit.verify)
        store.dispose()
        if verdict.ok:
            click.echo(f"\u2713 audit trail intact: {verdict.checked} record(s)")
            return
        click.echo(f"\u2717 audit trail broken at record {verdict.broken_at}: {verdict.reason} "
                   f"({verdict.checked} record(s) before it verified)")
        sys.exit(EXIT_FAILURE)

    @main.command()
    @click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
    def completion(shell: str) -> None:
        """Print the shell completion script.

        \\b
        Example:  eval "$(hl7bridge completion bash)"
        """
        from click.shell_completion import get_completion_class

        cls = get_completion_class(shell)
        assert cls is not None
        click.echo(cls(main, {}, "hl7bridge", "_HL7BRIDGE_COMPLETE").source())


def collect_stats(config: Any, store: Any) -> dict[str, Any]:
    from hl7bridge.engine import stats

    channels = {name: list(spec.destinations) for name, spec in config.channels.items()}
    report = store.read_sync(lambda c: stats.collect(c, channels))
    if config.engine.broker == "embedded":
        depths = store.read_sync(stats.outbox_depths)
    else:
        from hl7bridge.engine.brokers.names import destination_queue

        queues = [destination_queue(c, d) for c, ds in channels.items() for d in ds]
        try:
            depths = stats.rabbitmq_depths(config.engine.broker, queues)
        except Exception:  # RabbitMQ unreachable: the store's counts still stand
            depths = {}
    stats.fill_backlog(report, depths)
    return report
