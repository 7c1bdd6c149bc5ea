"""Tables for people (rich); scripts use --json instead."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def message_table(rows: list[dict[str, Any]]) -> None:
    table = Table("id", "received", "channel", "type", "control id", "patient", "status", box=None)
    for r in rows:
        kind = r["message_type"] + (f"^{r['trigger_event']}" if r["trigger_event"] else "")
        table.add_row(r["id"], r["received_at"], r["channel"], kind, r["control_id"], r["patient_id"], r["status"])
    console.print(table)
    console.print(f"{len(rows)} message(s)")


def message_detail(data: dict[str, Any]) -> None:
    for key in ("id", "channel", "received_at", "status", "message_type", "trigger_event", "control_id",
                "sending_app", "sending_facility", "patient_id", "correlation_id", "error", "error_location"):
        if data.get(key):
            console.print(f"[bold]{key}[/bold]: {data[key]}")
    for d in data.get("deliveries", []):
        replay = f" (replay of {d['replay_of']})" if d["replay_of"] else ""
        replay += f" (replayed by {', '.join(d['replayed_by'])})" if d.get("replayed_by") else ""
        console.print(f"\n[bold]{d['destination']}[/bold] {d['status']} delivery {d['id']}{replay}")
        table = Table("#", "at", "outcome", "code", "ms", "error", box=None)
        for a in d["history"]:
            table.add_row(str(a["number"]), a["at"], a["outcome"], a["code"] or "", str(a["duration_ms"]),
                          a["error"] or "")
        console.print(table)
    for body in data.get("content", []):
        console.print(body.replace("\r", "\n"), markup=False, highlight=False)


def dead_letter_table(rows: list[dict[str, Any]]) -> None:
    table = Table("delivery", "message", "channel", "destination", "attempts", "code", "reason", box=None)
    for r in rows:
        table.add_row(r["id"], r["message_id"], r["channel"], r["destination"], str(r["attempts"]),
                      r["last_code"] or "", r["last_error"] or "")
    console.print(table)
    console.print(f"{len(rows)} dead letter(s)")


def stats_table(report: dict[str, Any], *, render: bool = True) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("channel / destination", no_wrap=True)
    for header in ("recv", "filt", "err", "deliv", "dead", "pend", "queue", "oldest", "last in"):
        table.add_column(header, justify="right", no_wrap=True)
    for c in report["channels"]:
        table.add_row(f"[bold]{c['channel']}[/bold]", str(c["received"]), str(c["filtered"]), str(c["errored"]),
                      str(c["delivered"]), str(c["dead_lettered"]), str(c["queued"]), "", "",
                      _age(c["last_received_age_secs"]))
        for d in c["destinations"]:
            table.add_row(f"  {d['destination']}", "", "", "", str(d["delivered"]), str(d["dead_lettered"]),
                          str(d["pending"]), "" if d["queued"] is None else str(d["queued"]),
                          _age(d["oldest_pending_age_secs"]), "")
    if render:
        console.print(table)
    return table


def _age(secs: float | None) -> str:
    if secs is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs / size:.1f}{unit}"
    return f"{secs:.0f}s"


def audit_table(rows: list[dict[str, Any]]) -> None:
    table = Table("#", "at", "actor", "action", "ids", "details", box=None)
    for r in rows:
        ids = r["target_ids"]
        table.add_row(str(r["id"]), r["at"], r["actor"], r["action"],
                      ", ".join(ids[:3]) + (f" (+{len(ids) - 3})" if len(ids) > 3 else ""), str(r["details"]))
    console.print(table)
