"""delivery log, staff directory, preferences, reminders (revision 0002, after 0001)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.create_table(
        "preference",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("mute_reminders", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_preference")),
        schema="notifications",
    )
    op.create_table(
        "reminder",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "context", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        sa.UniqueConstraint("kind", "subject_id", "recipient_id", name=op.f("uq_reminder_kind")),
        schema="notifications",
    )
    op.create_index(
        "ix_reminder_due",
        "reminder",
        ["due_at"],
        unique=False,
        schema="notifications",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "staff_contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("organisation_key", sa.String(length=36), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_contact")),
        sa.UniqueConstraint("role", "subject", "organisation_key", name=op.f("uq_staff_contact_role")),
        schema="notifications",
    )
    op.create_index(
        op.f("ix_notifications_staff_contact_subject"),
        "staff_contact",
        ["subject"],
        unique=False,
        schema="notifications",
    )
    op.add_column(
        "delivery",
        sa.Column("recipient_kind", sa.String(length=10), server_default="person", nullable=False),
        schema="notifications",
    )
    op.add_column(
        "delivery",
        sa.Column("essential", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        schema="notifications",
    )
    op.add_column("delivery", sa.Column("email", sa.String(length=320), nullable=True), schema="notifications")
    op.add_column(
        "delivery", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True), schema="notifications"
    )
    op.add_column(
        "delivery", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True), schema="notifications"
    )
    op.add_column("delivery", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True), schema="notifications")
    op.add_column("delivery", sa.Column("last_error", sa.Text(), nullable=True), schema="notifications")
    op.create_index(
        "ix_delivery_due",
        "delivery",
        ["next_attempt_at"],
        unique=False,
        schema="notifications",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_delivery_in_flight",
        "delivery",
        ["claimed_at"],
        unique=False,
        schema="notifications",
        postgresql_where=sa.text("status IN ('sending', 'handing_over')"),
    )
    # Deliveries the walking skeleton only recorded are now due for e-mail.
    op.execute(
        "UPDATE notifications.delivery SET status = 'pending', next_attempt_at = created_at WHERE status = 'recorded'"
    )


def downgrade() -> None:
    op.drop_index(
        "ix_delivery_in_flight",
        table_name="delivery",
        schema="notifications",
        postgresql_where=sa.text("status IN ('sending', 'handing_over')"),
    )
    op.drop_index(
        "ix_delivery_due", table_name="delivery", schema="notifications", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_column("delivery", "last_error", schema="notifications")
    op.drop_column("delivery", "sent_at", schema="notifications")
    op.drop_column("delivery", "claimed_at", schema="notifications")
    op.drop_column("delivery", "next_attempt_at", schema="notifications")
    op.drop_column("delivery", "email", schema="notifications")
    op.drop_column("delivery", "essential", schema="notifications")
    op.drop_column("delivery", "recipient_kind", schema="notifications")
    op.drop_index(op.f("ix_notifications_staff_contact_subject"), table_name="staff_contact", schema="notifications")
    op.drop_table("staff_contact", schema="notifications")
    op.drop_index(
        "ix_reminder_due", table_name="reminder", schema="notifications", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("reminder", schema="notifications")
    op.drop_table("preference", schema="notifications")
