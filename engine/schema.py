"""The store's tables (SQLAlchemy Core).  Alembic migrations in engine/migrations create and upgrade them.

- messages:   one row per received message; the metadata operators search by.
- contents:   payloads: the raw bytes as received (immutable), transformed, sent, responses.
- deliveries: one row per (message, destination, delivery); replays add rows linked by replay_of.
- attempts:   every delivery attempt: time, outcome, HTTP status or ACK code, short error.
- outbox:     work to hand to the broker: the relay publishes rows to RabbitMQ, the embedded broker
              consumes them in place.  available_at holds retry delays in the store.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text)

metadata = MetaData()

messages = Table(
    "messages", metadata,
    Column("id", String(26), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("source", String(16), nullable=False, server_default="mllp"),
    Column("message_type", String(16), nullable=False, server_default=""),
    Column("trigger_event", String(16), nullable=False, server_default=""),
    Column("control_id", String(64), nullable=False, server_default=""),
    Column("sending_app", String(64), nullable=False, server_default=""),
    Column("sending_facility", String(64), nullable=False, server_default=""),
    Column("version", String(16), nullable=False, server_default=""),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("error", String(500)),
    Column("error_location", String(64)),
    Column("content_hash", String(64), nullable=False),
    Column("correlation_id", String(36), nullable=False),
    Column("size_bytes", Integer, nullable=False, server_default="0"),
    Column("ack", LargeBinary),
    Column("replay_of", String(26)),
    Column("content_pruned_at", Float),
)
Index("ix_messages_dedup", messages.c.channel, messages.c.control_id)
Index("ix_messages_channel_time", messages.c.channel, messages.c.received_at)
Index("ix_messages_status_time", messages.c.status, messages.c.received_at)
Index("ix_messages_channel_status_time", messages.c.channel, messages.c.status, messages.c.received_at)
Index("ix_messages_type_time", messages.c.message_type, messages.c.trigger_event, messages.c.received_at)
Index("ix_messages_patient", messages.c.patient_id)
Index("ix_messages_time", messages.c.received_at)
Index("ix_messages_control_id", messages.c.control_id)
Index("ix_messages_sender_time", messages.c.sending_app, messages.c.received_at)

contents = Table(
    "contents", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(26), nullable=False),
    Column("kind", String(16), nullable=False),  # raw | transformed | sent | response
    Column("destination", String(64)),
    Column("delivery_id", String(26)),
    Column("content_type", String(64), nullable=False, server_default="application/octet-stream"),
    Column("created_at", Float, nullable=False),
    Column("body", LargeBinary, nullable=False),
)
Index("ix_contents_message", contents.c.message_id, contents.c.kind)

deliveries = Table(
    "deliveries", metadata,
    Column("id", String(26), primary_key=True),
    Column("message_id", String(26), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("idempotency_key", String(80), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("next_attempt_at", Float),
    Column("last_code", String(16)),
    Column("last_error", String(500)),
    Column("replay_of", String(26)),
    Column("dlq_purged_at", Float),
)
Index("ix_deliveries_message", deliveries.c.message_id)
Index("ix_deliveries_dest_status", deliveries.c.channel, deliveries.c.destination, deliveries.c.status)
Index("ix_deliveries_status_created", deliveries.c.status, deliveries.c.created_at)

attempts = Table(
    "attempts", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("delivery_id", String(26), nullable=False),
    Column("message_id", String(26), nullable=False),
    Column("number", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # success | retry | dead_letter
    Column("code", String(16)),
    Column("error", String(500)),
)
Index("ix_attempts_delivery", attempts.c.delivery_id)

outbox = Table(
    "outbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("queue", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False, server_default="{}"),
    Column("created_at", Float, nullable=False),
    Column("available_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("delivery_count", Integer, nullable=False, server_default="0"),
)
Index("ix_outbox_queue_ready", outbox.c.queue, outbox.c.available_at)
Index("ix_outbox_ready", outbox.c.available_at)

# Append-only, hash-chained record of every action that reads content or changes state
# (engine/audit.py); database triggers refuse UPDATE and DELETE (migration 0002).
audit = Table(
    "audit", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_ids", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_at", audit.c.at)

# Idempotency-Key of HTTP intake: the same key and body get the same answer, never a second message.
idempotency = Table(
    "idempotency", metadata,
    Column("channel", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("body_hash", String(64), nullable=False),
    Column("message_id", String(26), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)
