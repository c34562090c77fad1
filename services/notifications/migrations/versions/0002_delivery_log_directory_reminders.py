"""delivery log, staff directory, preferences, reminders (revision 0002, after 0001)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, add_columns, drop_columns, drop_tables

revision: str = "0002"
down_revision: str | None = "0001"

S = "notifications"

DELIVERY = [
    ("delivery", sa.Column("recipient_kind", sa.String(length=10), server_default="person", nullable=False)),
    ("delivery", sa.Column("essential", sa.Boolean(), server_default=sa.text("true"), nullable=False)),
    ("delivery", sa.Column("email", sa.String(length=320), nullable=True)),
    ("delivery", sa.Column("next_attempt_at", TZ, nullable=True)),
    ("delivery", sa.Column("claimed_at", TZ, nullable=True)),
    ("delivery", sa.Column("sent_at", TZ, nullable=True)),
    ("delivery", sa.Column("last_error", sa.Text(), nullable=True)),
]
# the partial indexes the workers poll: (name, table, column, which rows)
PARTIAL = [
    ("ix_reminder_due", "reminder", "due_at", "status = 'pending'"),
    ("ix_delivery_due", "delivery", "next_attempt_at", "status = 'pending'"),
    ("ix_delivery_in_flight", "delivery", "claimed_at", "status IN ('sending', 'handing_over')"),
]


def upgrade() -> None:
    op.create_table(
        "preference",
        sa.Column("subject", sa.String(length=200), primary_key=True),
        sa.Column("mute_reminders", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "reminder",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("fired_at", TZ, nullable=True),
        sa.UniqueConstraint("kind", "subject_id", "recipient_id"),
        schema=S,
    )
    op.create_table(
        "staff_contact",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False, index=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("organisation_key", sa.String(length=36), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("role", "subject", "organisation_key"),
        schema=S,
    )
    add_columns(S, *DELIVERY)
    for name, table, column, where in PARTIAL:
        op.create_index(name, table, [column], unique=False, schema=S, postgresql_where=sa.text(where))
    # Deliveries the walking skeleton only recorded are now due for e-mail.
    op.execute(f"UPDATE {S}.delivery SET status = 'pending', next_attempt_at = created_at WHERE status = 'recorded'")


def downgrade() -> None:
    for name, table, _column, _where in reversed(PARTIAL):
        op.drop_index(name, table_name=table, schema=S)
    drop_columns(S, *DELIVERY)
    drop_tables(S, "staff_contact", "reminder", "preference")
