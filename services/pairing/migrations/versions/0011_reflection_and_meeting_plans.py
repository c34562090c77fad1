"""Shadowing and mentoring (revision 0011, after 0010): the learner's reflection after the visit, a
thank-you the sharer reads (free text: it stays in this schema); mentoring meetings in the diary (their
calendar invitations)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import drop_tables

revision = "0011"
down_revision = "0010"

S = "pairing"


def upgrade() -> None:
    op.create_table(
        "shadowing_reflection",
        sa.Column("pair_id", sa.Uuid, sa.ForeignKey(f"{S}.pair.id"), primary_key=True),
        sa.Column("learner_id", sa.Uuid, nullable=False),
        sa.Column("sharer_id", sa.Uuid, nullable=False),
        sa.Column("learnt", sa.Text, nullable=False),
        sa.Column("take_back", sa.Text, nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "mentoring_meeting_plan",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("pair_id", sa.Uuid, sa.ForeignKey(f"{S}.pair.id"), nullable=False, index=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("starts_at", sa.Time, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("planned_by", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "mentoring_meeting_plan", "shadowing_reflection")
