"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, create_outbox_and_inbox, drop_outbox_and_inbox, drop_tables

revision: str = "0001"
down_revision: str | None = None

S = "pairing"


def upgrade() -> None:
    op.create_table(
        "fellow",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("cohort_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=20), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("place", sa.String(length=40), nullable=False),
        sa.Column("staff_group", sa.String(length=20), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("availability", JSON, nullable=False),
        sa.Column("interests", JSON, nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", TZ, nullable=False),
        schema=S,
    )
    create_outbox_and_inbox(S)
    op.create_table(
        "pairing_round",
        sa.Column("cohort_id", sa.Uuid(), primary_key=True),
        sa.Column("fellow_ids", JSON, nullable=False),
        sa.Column("pairing_mode", sa.String(length=20), nullable=False),
        sa.Column("auto_publish", sa.Boolean(), nullable=False),
        sa.Column("exchange_starts", sa.Date(), nullable=False),
        sa.Column("exchange_ends", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("unpaired", JSON, nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "pair",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("cohort_id", sa.Uuid(), sa.ForeignKey(f"{S}.pairing_round.cohort_id"), nullable=False, index=True),
        sa.Column("fellow_ids", JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("pair_id", sa.Uuid(), sa.ForeignKey(f"{S}.pair.id"), nullable=False, index=True),
        sa.Column("host_fellow_id", sa.Uuid(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("scheduled_by", sa.String(length=200), nullable=False),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("pair_id", "host_fellow_id"),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "visit", "pair", "pairing_round", "fellow")
    drop_outbox_and_inbox(S)
