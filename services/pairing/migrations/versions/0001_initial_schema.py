"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "fellow",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=20), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("place", sa.String(length=40), nullable=False),
        sa.Column("staff_group", sa.String(length=20), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column(
            "availability",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "interests", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fellow")),
        schema="pairing",
    )
    op.create_index(op.f("ix_pairing_fellow_cohort_id"), "fellow", ["cohort_id"], unique=False, schema="pairing")
    create_outbox_and_inbox("pairing")
    op.create_table(
        "pairing_round",
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column(
            "fellow_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("pairing_mode", sa.String(length=20), nullable=False),
        sa.Column("auto_publish", sa.Boolean(), nullable=False),
        sa.Column("exchange_starts", sa.Date(), nullable=False),
        sa.Column("exchange_ends", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "unpaired", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cohort_id", name=op.f("pk_pairing_round")),
        schema="pairing",
    )
    op.create_table(
        "pair",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column(
            "fellow_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["pairing.pairing_round.cohort_id"], name=op.f("fk_pair_cohort_id_pairing_round")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair")),
        schema="pairing",
    )
    op.create_index(op.f("ix_pairing_pair_cohort_id"), "pair", ["cohort_id"], unique=False, schema="pairing")
    op.create_table(
        "visit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("host_fellow_id", sa.Uuid(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("scheduled_by", sa.String(length=200), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pair_id"], ["pairing.pair.id"], name=op.f("fk_visit_pair_id_pair")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("pair_id", "host_fellow_id", name=op.f("uq_visit_pair_id")),
        schema="pairing",
    )
    op.create_index(op.f("ix_pairing_visit_pair_id"), "visit", ["pair_id"], unique=False, schema="pairing")


def downgrade() -> None:
    op.drop_index(op.f("ix_pairing_visit_pair_id"), table_name="visit", schema="pairing")
    op.drop_table("visit", schema="pairing")
    op.drop_index(op.f("ix_pairing_pair_cohort_id"), table_name="pair", schema="pairing")
    op.drop_table("pair", schema="pairing")
    op.drop_table("pairing_round", schema="pairing")
    drop_outbox_and_inbox("pairing")
    op.drop_index(op.f("ix_pairing_fellow_cohort_id"), table_name="fellow", schema="pairing")
    op.drop_table("fellow", schema="pairing")
