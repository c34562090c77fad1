"""Erasure on request (revision 0007, after 0006): the erasure requests and each service's
confirmation, and an outbox payload that may be NULL (a tombstone for the compacted contacts topic)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, drop_tables

revision = "0007"
down_revision = "0006"
SCHEMA = "applications"


def upgrade() -> None:
    op.alter_column("outbox", "payload", nullable=True, schema=SCHEMA)
    op.create_table(
        "erasure",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("person_id", sa.Uuid, nullable=True),
        sa.Column("application_ids", JSON, nullable=False),
        sa.Column("fellow_ids", JSON, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_erasure_person_id"), "erasure", ["person_id"], schema=SCHEMA)
    op.create_table(
        "erasure_confirmation",
        sa.Column("erasure_id", sa.Uuid, nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["erasure_id"], [f"{SCHEMA}.erasure.id"], name=op.f("fk_erasure_confirmation_erasure_id_erasure")
        ),
        sa.PrimaryKeyConstraint("erasure_id", "service", name=op.f("pk_erasure_confirmation")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    drop_tables(SCHEMA, "erasure_confirmation", "erasure")
    op.execute(f"DELETE FROM {SCHEMA}.outbox WHERE payload IS NULL")
    op.alter_column("outbox", "payload", nullable=False, schema=SCHEMA)
