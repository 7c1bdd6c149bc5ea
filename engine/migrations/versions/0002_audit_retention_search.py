"""audit log (append-only), pruned-content marker, search indexes

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_ids", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS
    for statement in triggers:
        op.execute(statement)
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("content_pruned_at", sa.Float(), nullable=True))
        batch.create_index("ix_messages_control_id", ["control_id"])
        batch.create_index("ix_messages_sender_time", ["sending_app", "received_at"])
        batch.create_index("ix_messages_channel_status_time", ["channel", "status", "received_at"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("dlq_purged_at", sa.Float(), nullable=True))
        batch.create_index("ix_deliveries_status_created", ["status", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_status_created")
        batch.drop_column("dlq_purged_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_channel_status_time")
        batch.drop_index("ix_messages_sender_time")
        batch.drop_index("ix_messages_control_id")
        batch.drop_column("content_pruned_at")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_no_change ON audit")
        op.execute("DROP FUNCTION audit_append_only()")
    op.drop_table("audit")
