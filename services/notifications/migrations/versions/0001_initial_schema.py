"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "contact",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("job_title", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_contact")),
        schema="notifications",
    )
    op.create_index(
        op.f("ix_notifications_contact_subject"), "contact", ["subject"], unique=False, schema="notifications"
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "context", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint("event_id", "recipient_id", name=op.f("uq_delivery_event_id")),
        schema="notifications",
    )
    op.create_index(
        op.f("ix_notifications_delivery_created_at"), "delivery", ["created_at"], unique=False, schema="notifications"
    )
    op.create_index(
        op.f("ix_notifications_delivery_recipient_id"),
        "delivery",
        ["recipient_id"],
        unique=False,
        schema="notifications",
    )
    create_outbox_and_inbox("notifications")
    op.create_table(
        "pair_member",
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("pair_id", "person_id", name=op.f("pk_pair_member")),
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_table("pair_member", schema="notifications")
    drop_outbox_and_inbox("notifications")
    op.drop_index(op.f("ix_notifications_delivery_recipient_id"), table_name="delivery", schema="notifications")
    op.drop_index(op.f("ix_notifications_delivery_created_at"), table_name="delivery", schema="notifications")
    op.drop_table("delivery", schema="notifications")
    op.drop_index(op.f("ix_notifications_contact_subject"), table_name="contact", schema="notifications")
    op.drop_table("contact", schema="notifications")
