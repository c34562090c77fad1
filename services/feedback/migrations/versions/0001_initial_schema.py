"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, create_index, create_outbox_and_inbox, drop_outbox_and_inbox, drop_tables

revision: str = "0001"
down_revision: str | None = None

S = "feedback"


def _from_one_fellow_to_another() -> list[sa.Column]:  # type: ignore[type-arg]
    """The columns feedback and its request share: which exchange pair, from whom, to whom."""
    return [
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("pair_id", sa.Uuid(), sa.ForeignKey(f"{S}.exchange_pair.id"), nullable=False, index=True),
        sa.Column("from_fellow_id", sa.Uuid(), nullable=False),
        sa.Column("to_fellow_id", sa.Uuid(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "exchange_pair",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("cohort_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("fellow_ids", JSON, nullable=False),
        sa.Column("organisation_codes", JSON, nullable=False),
        sa.Column("assigned_at", TZ, nullable=False),
        sa.Column("exchange_completed_at", TZ, nullable=True),
        schema=S,
    )
    create_outbox_and_inbox(S)
    op.create_table(
        "feedback",
        *_from_one_fellow_to_another(),
        sa.Column("strengths", JSON, nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("collaboration_ideas", JSON, nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("released_at", TZ, nullable=True),
        sa.UniqueConstraint("pair_id", "from_fellow_id", "to_fellow_id"),
        schema=S,
    )
    create_index(S, "feedback", "to_fellow_id")
    op.create_table(
        "feedback_request",
        *_from_one_fellow_to_another(),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("pair_id", "from_fellow_id", "to_fellow_id"),
        schema=S,
    )
    op.create_table(
        "collaboration_opportunity",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("pair_id", sa.Uuid(), sa.ForeignKey(f"{S}.exchange_pair.id"), nullable=False, index=True),
        sa.Column("feedback_id", sa.Uuid(), sa.ForeignKey(f"{S}.feedback.id"), nullable=False),
        sa.Column("idea", sa.Text(), nullable=False),
        sa.Column("organisation_codes", JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "collaboration_opportunity", "feedback_request", "feedback", "exchange_pair")
    drop_outbox_and_inbox(S)
