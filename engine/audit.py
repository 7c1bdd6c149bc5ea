"""The audit trail: who read content or changed state, when, what, on which ids.

Append-only (database triggers refuse UPDATE and DELETE) and hash-chained: each record's hash
covers its fields and the previous record's hash, so ``verify`` finds any record changed,
removed or inserted out of order.  Records hold ids and parameters, never message content.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from hl7bridge.engine.schema import audit

GENESIS = "0" * 64


def current_actor(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    try:
        return os.environ.get("HL7BRIDGE_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def _digest(prev_hash: str, at: float, actor: str, action: str, target_ids: str, details: str) -> str:
    canonical = orjson.dumps([prev_hash, repr(at), actor, action, target_ids, details])
    return hashlib.sha256(canonical).hexdigest()


def record(connection: Connection, actor: str, action: str, target_ids: list[str],
           details: dict[str, Any] | None = None) -> str:
    """Append one record in the caller's transaction; returns its hash."""
    if connection.dialect.name == "postgresql":  # one writer at a time extends the chain
        connection.exec_driver_sql("LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE")
    last = connection.execute(select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).first()
    prev = last.hash if last else GENESIS
    at = time.time()
    ids = orjson.dumps(sorted(target_ids)).decode()
    info = orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS).decode()
    digest = _digest(prev, at, actor, action, ids, info)
    connection.execute(audit.insert().values(at=at, actor=actor, action=action, target_ids=ids, details=info,
                                             prev_hash=prev, hash=digest))
    return digest


@dataclass(slots=True)
class Verdict:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


def verify(connection: Connection) -> Verdict:
    prev, checked = GENESIS, 0
    for row in connection.execute(select(audit).order_by(audit.c.id)):
        if row.prev_hash != prev:
            return Verdict(False, checked, row.id, "does not follow the record before it")
        if _digest(row.prev_hash, row.at, row.actor, row.action, row.target_ids, row.details) != row.hash:
            return Verdict(False, checked, row.id, "its content does not match its hash")
        prev, checked = row.hash, checked + 1
    return Verdict(True, checked)


def entries(connection: Connection, *, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
    query = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if action:
        query = query.where(audit.c.action == action)
    return [{"id": r.id, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.at)), "actor": r.actor,
             "action": r.action, "target_ids": orjson.loads(r.target_ids), "details": orjson.loads(r.details),
             "hash": r.hash} for r in connection.execute(query)]
