"""Operator commands through click's CliRunner on a seeded SQLite store: search, show, replay,
dead letters, stats, prune, audit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hl7bridge.cli import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, main
from hl7bridge.engine import ledger
from hl7bridge.engine.intake import HL7Intake
from hl7bridge.engine.store import Store
from hl7b_testkit import hl7

CONFIG = """
engine: {{store: "sqlite:///{db}", broker: embedded}}
channels:
  adt:
    source: {{type: mllp, listen: "127.0.0.1:1"}}
    retention: {{content_days: 30, metadata_days: 365}}
    destinations:
      patients: {{type: file, directory: out}}
      billing: {{type: file, directory: out}}
  lab:
    replayable: false
    source: {{type: mllp, listen: "127.0.0.1:2"}}
    destinations:
      results: {{type: file, directory: out}}
"""


class Seeded:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "store.db"
        self.config = tmp_path / "channels.yaml"
        self.config.write_text(CONFIG.format(db=self.db))
        self.ids: dict[str, str] = {}
        asyncio.run(self._seed())

    async def _seed(self) -> None:
        store = Store(f"sqlite:///{self.db}")
        await store.open()
        adt, lab = HL7Intake(store, "adt"), HL7Intake(store, "lab")
        for i in range(12):
            await adt.receive(hl7(f"A{i:02d}", patient="P1" if i < 4 else "P2"))
        await lab.receive(hl7("L00", message_type="ORU^R01"))
        rows = await store.read(lambda c: c.exec_driver_sql("select control_id, id from messages").all())
        self.ids = dict(rows)
        rows = await store.read(lambda c: c.exec_driver_sql("select control_id, id from messages").all())
        self.ids = dict(rows)
        for control_id in ("A00", "A01", "A02"):
            mid = self.ids[control_id]
            dids = await store.write(lambda c, m=mid: ledger.queue_deliveries(c, m, "adt", ["patients", "billing"],
                                                                            b"payload", "text/plain"))
            for did, result in zip(dids, (ledger.AttemptResult("success", "written", None, 1.0),
                                          ledger.AttemptResult("dead_letter", "400", "HTTP 400", 3.0))):
                delivery = await store.read(lambda c, d=did: ledger.load_delivery(c, d))
                await store.write(lambda c, d=delivery[0], r=result: ledger.record_attempt(c, d, r))
        pending = self.ids["A03"]
        await store.write(lambda c: ledger.queue_deliveries(c, pending, "adt", ["patients"], b"p", "text/plain"))
        await store.close()

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, [*args, "--config", str(self.config)], input=input)

    def sql(self, statement: str) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(statement).fetchall()


@pytest.fixture()
def seeded(tmp_path: Path) -> Seeded:
    return Seeded(tmp_path)


def listed(seeded: Seeded, *args: str) -> list[dict]:
    result = seeded.run("messages", "list", "--json", *args)
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.output)


def test_search_filters_narrow_the_list(seeded: Seeded) -> None:
    assert len(listed(seeded)) == 13
    assert {m["control_id"] for m in listed(seeded, "--channel", "lab")} == {"L00"}
    assert len(listed(seeded, "--patient", "P1")) == 4
    assert [m["control_id"] for m in listed(seeded, "--control-id", "A07")] == ["A07"]
    assert len(listed(seeded, "--type", "ORU^R01")) == 1 and len(listed(seeded, "--type", "ADT")) == 12
    assert {m["control_id"] for m in listed(seeded, "--status", "DEAD_LETTERED")} == {"A00", "A01", "A02"}
    assert len(listed(seeded, "--destination-of", "billing")) == 3 and len(listed(seeded, "--destination-of", "patients")) == 4
    assert len(listed(seeded, "--error", "HTTP 400")) == 3
    assert len(listed(seeded, "--sender", "SENDAPP")) == 13 and listed(seeded, "--sender", "NOBODY") == []
    assert len(listed(seeded, "--since", "1h")) == 13
    assert listed(seeded, "--until", "2000-01-01") == [] and len(listed(seeded, "--from", "2000-01-01")) == 13


def test_pages_follow_each_other_without_gaps_or_overlap(seeded: Seeded) -> None:
    seen, before = [], []
    while True:
        page = listed(seeded, "--limit", "5", *before)
        seen += [m["id"] for m in page]
        if len(page) < 5:
            break
        before = ["--before", page[-1]["id"]]
    assert len(seen) == 13 and len(set(seen)) == 13


def test_show_prints_no_content_unless_asked_and_audits_the_read(seeded: Seeded) -> None:
    mid = seeded.ids["A00"]
    plain = json.loads(seeded.run("messages", "show", mid, "--json").output)
    assert "content" not in plain and {d["status"] for d in plain["deliveries"]} == {"DELIVERED", "DEAD_LETTERED"}
    assert seeded.sql("select count(*) from audit") == [(0,)]
    shown = json.loads(seeded.run("messages", "show", mid, "--json", "--content", "raw", "--actor", "ana").output)
    assert "TESTPATIENT" in shown["content"][0]
    assert seeded.sql("select actor, action, target_ids from audit") == [("ana", "show_content", f'["{mid}"]')]
    assert seeded.run("messages", "show", "NOPE").exit_code == EXIT_NOT_FOUND


def test_a_dry_run_replay_sends_nothing(seeded: Seeded) -> None:
    before = seeded.sql("select count(*) from outbox")
    result = seeded.run("replay", "--channel", "adt", "--patient", "P1", "--dry-run")
    assert result.exit_code == EXIT_OK and "dry run: 4 message(s) would be replayed" in result.output
    assert seeded.sql("select count(*) from outbox") == before
    assert seeded.sql("select count(*) from audit") == [(0,)]


def test_replay_by_filter_queues_each_message_and_is_audited(seeded: Seeded) -> None:
    result = seeded.run("replay", "--channel", "adt", "--patient", "P1", "--destination", "billing", "--yes")
    assert result.exit_code == EXIT_OK and "4 message(s) queued for replay" in result.output
    queued = seeded.sql("select body from outbox where queue = 'adt' and cast(body as text) like '%replay%'")
    assert len(queued) == 4 and all(b'"destinations":["billing"]' in row[0] for row in queued)
    assert seeded.sql("select action from audit") == [("replay",)]


def test_replay_is_refused_for_a_channel_that_is_not_replayable_and_for_unknown_destinations(seeded: Seeded) -> None:
    lab = seeded.run("replay", seeded.ids["L00"], "--yes")
    assert lab.exit_code == EXIT_FAILURE and "replayable: false" in lab.output
    wrong = seeded.run("replay", seeded.ids["A05"], "--destination", "nowhere", "--yes")
    assert wrong.exit_code == EXIT_FAILURE and "nowhere not in channel adt" in wrong.output
    assert seeded.run("replay").exit_code == 2  # neither ids nor filters


def test_replay_asks_for_confirmation_without_yes(seeded: Seeded) -> None:
    declined = seeded.run("replay", seeded.ids["A05"], input="n\n")
    assert declined.exit_code == EXIT_FAILURE and seeded.sql("select count(*) from audit") == [(0,)]


def test_dead_letters_are_listed_shown_and_purged_with_an_audit_record(seeded: Seeded) -> None:
    dead = json.loads(seeded.run("dlq", "list", "--json").output)
    assert len(dead) == 3 and {d["destination"] for d in dead} == {"billing"}
    assert dead[0]["history"][0]["code"] == "400" and dead[0]["last_error"] == "HTTP 400"
    shown = json.loads(seeded.run("dlq", "show", dead[0]["id"]).output)
    assert shown["id"] == dead[0]["id"] and shown["status"] == "DEAD_LETTERED"
    assert seeded.run("dlq", "purge", input="n\n").exit_code == EXIT_FAILURE
    assert seeded.run("dlq", "purge", "--yes", "--actor", "ops").output.strip() == "3 dead letter(s) purged"
    assert json.loads(seeded.run("dlq", "list", "--json").output) == []
    assert seeded.sql("select actor, action from audit") == [("ops", "dlq_purge")]
    assert len(listed(seeded, "--status", "DEAD_LETTERED")) == 3  # history stays searchable


def test_dlq_replay_links_each_replay_to_its_dead_letter(seeded: Seeded) -> None:
    assert seeded.sql("select count(*) from outbox where queue = 'adt.billing.dlq'") == [(3,)]
    result = seeded.run("dlq", "replay", "--yes")
    assert seeded.sql("select count(*) from outbox where queue = 'adt.billing.dlq'") == [(0,)]
    assert result.exit_code == EXIT_OK and "3 message(s) queued for replay" in result.output
    bodies = [row[0] for row in seeded.sql("select body from outbox where queue = 'adt' and cast(body as text) like '%replay_of%'")]
    dead_ids = {d[0] for d in seeded.sql("select id from deliveries where status = 'DEAD_LETTERED'")}
    assert len(bodies) == 3 and all(any(i.encode() in b for i in dead_ids) for b in bodies)


def test_stats_count_per_channel_and_destination(seeded: Seeded) -> None:
    report = json.loads(seeded.run("stats", "--json").output)
    adt = next(c for c in report["channels"] if c["channel"] == "adt")
    assert adt["received"] == 12 and adt["dead_lettered"] == 3
    billing = next(d for d in adt["destinations"] if d["destination"] == "billing")
    patients = next(d for d in adt["destinations"] if d["destination"] == "patients")
    assert billing["dead_lettered"] == 3 and patients["delivered"] == 3 and patients["pending"] == 1
    assert patients["queued"] == 4  # outbox rows: nothing consumes them in this test
    assert patients["oldest_pending_age_secs"] is not None and adt["last_received_age_secs"] is not None


def test_prune_removes_old_content_then_replay_is_refused(seeded: Seeded) -> None:
    old = time.time() - 40 * 86400
    seeded.sql(f"update messages set received_at = {old}, status = 'DELIVERED' where control_id in ('A10', 'A11')")
    dry = seeded.run("prune", "--dry-run")
    assert "adt: 2 message(s) past content retention" in dry.output and "nothing changed" in dry.output
    assert seeded.sql("select count(*) from contents where kind = 'raw'") == [(13,)]
    assert "2 message(s) pruned" in seeded.run("prune").output
    assert seeded.sql("select count(*) from contents where kind = 'raw'") == [(11,)]
    refused = seeded.run("replay", seeded.ids["A10"], "--yes")
    assert refused.exit_code == EXIT_FAILURE and "pruned by retention" in refused.output
    assert seeded.sql("select action from audit where action = 'prune'") == [("prune",)]


def test_audit_verify_passes_on_an_intact_trail_and_fails_after_tampering(seeded: Seeded) -> None:
    seeded.run("messages", "show", seeded.ids["A03"], "--content", "raw")
    seeded.run("replay", seeded.ids["A04"], "--yes")
    ok = seeded.run("audit", "verify")
    assert ok.exit_code == EXIT_OK and "intact: 2 record(s)" in ok.output
    records = json.loads(seeded.run("audit", "list", "--json").output)
    assert [r["action"] for r in records] == ["replay", "show_content"]
    with pytest.raises(sqlite3.IntegrityError):
        seeded.sql("update audit set actor = 'someone-else' where id = 1")  # append-only
    seeded.sql("drop trigger audit_no_update")  # a DBA with write access goes around it
    seeded.sql("update audit set actor = 'someone-else' where id = 1")
    broken = seeded.run("audit", "verify")
    assert broken.exit_code == EXIT_FAILURE and "broken at record 1" in broken.output


def test_every_command_has_help_with_an_example() -> None:
    for path in (["validate"], ["run"], ["send"], ["test"], ["messages", "list"], ["messages", "show"], ["replay"],
                 ["dlq", "list"], ["dlq", "show"], ["dlq", "replay"], ["dlq", "purge"], ["stats"], ["prune"],
                 ["audit", "list"], ["audit", "verify"], ["completion"]):
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output, path


def test_completion_scripts_are_printed() -> None:
    result = CliRunner().invoke(main, ["completion", "bash"])
    assert result.exit_code == 0 and "_HL7BRIDGE_COMPLETE" in result.output
