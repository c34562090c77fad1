"""fellow projection, release and correction state (revision 0002, after 0001)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.create_table(
        "fellow",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=50), nullable=False),
        sa.Column("sector", sa.String(length=50), nullable=False),
        sa.Column("place", sa.String(length=50), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fellow")),
        schema="feedback",
    )
    op.create_index(op.f("ix_feedback_fellow_cohort_id"), "fellow", ["cohort_id"], unique=False, schema="feedback")
    op.add_column(
        "collaboration_opportunity",
        sa.Column(
            "organisation_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        schema="feedback",
    )
    op.add_column("exchange_pair", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True), schema="feedback")
    op.add_column(
        "exchange_pair", sa.Column("released_at", sa.DateTime(timezone=True), nullable=True), schema="feedback"
    )
    op.add_column("exchange_pair", sa.Column("release_reason", sa.String(length=20), nullable=True), schema="feedback")
    op.create_index(
        op.f("ix_feedback_exchange_pair_due_at"), "exchange_pair", ["due_at"], unique=False, schema="feedback"
    )
    op.add_column(
        "feedback",
        sa.Column(
            "top_strengths",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        schema="feedback",
    )
    op.add_column("feedback", sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True), schema="feedback")
    op.add_column(
        "feedback_request", sa.Column("missing_at", sa.DateTime(timezone=True), nullable=True), schema="feedback"
    )


def downgrade() -> None:
    op.drop_column("feedback_request", "missing_at", schema="feedback")
    op.drop_column("feedback", "corrected_at", schema="feedback")
    op.drop_column("feedback", "top_strengths", schema="feedback")
    op.drop_index(op.f("ix_feedback_exchange_pair_due_at"), table_name="exchange_pair", schema="feedback")
    op.drop_column("exchange_pair", "release_reason", schema="feedback")
    op.drop_column("exchange_pair", "released_at", schema="feedback")
    op.drop_column("exchange_pair", "due_at", schema="feedback")
    op.drop_column("collaboration_opportunity", "organisation_ids", schema="feedback")
    op.drop_index(op.f("ix_feedback_fellow_cohort_id"), table_name="fellow", schema="feedback")
    op.drop_table("fellow", schema="feedback")
