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
