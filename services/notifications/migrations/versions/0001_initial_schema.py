"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, create_outbox_and_inbox, drop_outbox_and_inbox, drop_tables

revision: str = "0001"
down_revision: str | None = None

S = "notifications"


def upgrade() -> None:
    op.create_table(
        "contact",
        sa.Column("person_id", sa.Uuid(), primary_key=True),
        sa.Column("subject", sa.String(length=200), nullable=False, index=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("job_title", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.UniqueConstraint("event_id", "recipient_id"),
        schema=S,
    )
    create_outbox_and_inbox(S)
    op.create_table(
        "pair_member",
        sa.Column("pair_id", sa.Uuid(), primary_key=True),
        sa.Column("person_id", sa.Uuid(), primary_key=True),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "pair_member", "delivery", "contact")
    drop_outbox_and_inbox(S)
