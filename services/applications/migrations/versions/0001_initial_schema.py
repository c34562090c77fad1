"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, create_index, create_outbox_and_inbox, drop_outbox_and_inbox, drop_tables

revision: str = "0001"
down_revision: str | None = None

S = "applications"
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(length=20), nullable=False, unique=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("place", sa.String(length=40), nullable=False),
        sa.Column("created_at", TZ, server_default=NOW, nullable=False),
        schema=S,
    )
    create_outbox_and_inbox(S)
    op.create_table(
        "programme",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False, unique=True),
        sa.Column("created_at", TZ, server_default=NOW, nullable=False),
        schema=S,
    )
    op.create_table(
        "cohort",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("programme_id", sa.Uuid(), sa.ForeignKey(f"{S}.programme.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("pairing_mode", sa.String(length=20), nullable=False),
        sa.Column("opens_at", TZ, nullable=False),
        sa.Column("closes_at", TZ, nullable=True),
        sa.Column("exchange_starts", sa.Date(), nullable=False),
        sa.Column("exchange_ends", sa.Date(), nullable=False),
        sa.Column("auto_publish", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TZ, server_default=NOW, nullable=False),
        schema=S,
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("cohort_id", sa.Uuid(), sa.ForeignKey(f"{S}.cohort.id"), nullable=False),
        sa.Column("owner_sub", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("job_title", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey(f"{S}.organisation.id"), nullable=False),
        sa.Column("staff_group", sa.String(length=20), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("availability", JSON, nullable=False),
        sa.Column("interests", JSON, nullable=False),
        sa.Column("equality", JSON, nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        schema=S,
    )
    for column in ("cohort_id", "organisation_id", "owner_sub", "state"):
        create_index(S, "application", column)
    op.create_index(
        "uq_application_cohort_email",
        "application",
        ["cohort_id", sa.literal_column("lower(email)")],
        unique=True,
        schema=S,
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("application_id", sa.Uuid(), sa.ForeignKey(f"{S}.application.id"), nullable=False, index=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "decision", "application", "cohort", "programme", "organisation")
    drop_outbox_and_inbox(S)
