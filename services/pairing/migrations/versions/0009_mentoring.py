"""Mentoring (revision 0009, after 0008): a pair's agreement, its meetings (notes the pair's alone),
the 3- and 6-month check-ins and each fellow's closure with a reflection."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, drop_tables

revision = "0009"
down_revision = "0008"

S = "pairing"


def _pair() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("pair_id", sa.Uuid, sa.ForeignKey(f"{S}.pair.id"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "mentoring_agreement",
        _pair(),
        sa.Column("goals", JSON, nullable=False),
        sa.Column("meet_every_weeks", sa.Integer, nullable=False),
        sa.Column("agreed_by", sa.String(200), nullable=False),
        sa.Column("agreed_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "mentoring_meeting",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("pair_id", sa.Uuid, sa.ForeignKey(f"{S}.pair.id"), nullable=False, index=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("logged_by", sa.Uuid, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "mentoring_check_in",
        _pair(),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("fellow_id", sa.Uuid, primary_key=True),
        sa.Column("working", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("answered_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "mentoring_closure",
        _pair(),
        sa.Column("fellow_id", sa.Uuid, primary_key=True),
        sa.Column("reflection", sa.Text, nullable=False),
        sa.Column("closed_at", TZ, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "mentoring_closure", "mentoring_check_in", "mentoring_meeting", "mentoring_agreement")
