"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_pair",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column(
            "fellow_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "organisation_codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exchange_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_pair")),
        schema="feedback",
    )
    op.create_index(
        op.f("ix_feedback_exchange_pair_cohort_id"), "exchange_pair", ["cohort_id"], unique=False, schema="feedback"
    )
    create_outbox_and_inbox("feedback")
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("from_fellow_id", sa.Uuid(), nullable=False),
        sa.Column("to_fellow_id", sa.Uuid(), nullable=False),
        sa.Column(
            "strengths", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column(
            "collaboration_ideas",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["feedback.exchange_pair.id"], name=op.f("fk_feedback_pair_id_exchange_pair")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("pair_id", "from_fellow_id", "to_fellow_id", name=op.f("uq_feedback_pair_id")),
        schema="feedback",
    )
    op.create_index(op.f("ix_feedback_feedback_pair_id"), "feedback", ["pair_id"], unique=False, schema="feedback")
    op.create_index(
        op.f("ix_feedback_feedback_to_fellow_id"), "feedback", ["to_fellow_id"], unique=False, schema="feedback"
    )
    op.create_table(
        "feedback_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("from_fellow_id", sa.Uuid(), nullable=False),
        sa.Column("to_fellow_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["feedback.exchange_pair.id"], name=op.f("fk_feedback_request_pair_id_exchange_pair")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_request")),
        sa.UniqueConstraint("pair_id", "from_fellow_id", "to_fellow_id", name=op.f("uq_feedback_request_pair_id")),
        schema="feedback",
    )
    op.create_index(
        op.f("ix_feedback_feedback_request_pair_id"), "feedback_request", ["pair_id"], unique=False, schema="feedback"
    )
    op.create_table(
        "collaboration_opportunity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("feedback_id", sa.Uuid(), nullable=False),
        sa.Column("idea", sa.Text(), nullable=False),
        sa.Column(
            "organisation_codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"], ["feedback.feedback.id"], name=op.f("fk_collaboration_opportunity_feedback_id_feedback")
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["feedback.exchange_pair.id"], name=op.f("fk_collaboration_opportunity_pair_id_exchange_pair")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaboration_opportunity")),
        schema="feedback",
    )
    op.create_index(
        op.f("ix_feedback_collaboration_opportunity_pair_id"),
        "collaboration_opportunity",
        ["pair_id"],
        unique=False,
        schema="feedback",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_feedback_collaboration_opportunity_pair_id"), table_name="collaboration_opportunity", schema="feedback"
    )
    op.drop_table("collaboration_opportunity", schema="feedback")
    op.drop_index(op.f("ix_feedback_feedback_request_pair_id"), table_name="feedback_request", schema="feedback")
    op.drop_table("feedback_request", schema="feedback")
    op.drop_index(op.f("ix_feedback_feedback_to_fellow_id"), table_name="feedback", schema="feedback")
    op.drop_index(op.f("ix_feedback_feedback_pair_id"), table_name="feedback", schema="feedback")
    op.drop_table("feedback", schema="feedback")
    drop_outbox_and_inbox("feedback")
    op.drop_index(op.f("ix_feedback_exchange_pair_cohort_id"), table_name="exchange_pair", schema="feedback")
    op.drop_table("exchange_pair", schema="feedback")
