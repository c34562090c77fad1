"""Collaboration followed through (revision 0006, after 0005): an opportunity's status, next step and
reason for dropping it, and its check-ins 3, 6 and 12 months after the exchange. Opportunities made
before this revision start as ideas, their check-ins counted from when they were identified."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import TZ, add_columns, create_index, drop_columns, drop_index

revision = "0006"
down_revision = "0005"

S = "feedback"
FOLLOWED = [
    ("collaboration_opportunity", sa.Column("status", sa.String(20), nullable=False, server_default="idea")),
    ("collaboration_opportunity", sa.Column("next_step", sa.Text, nullable=True)),
    ("collaboration_opportunity", sa.Column("dropped_reason", sa.Text, nullable=True)),
    ("collaboration_opportunity", sa.Column("updated_at", TZ, nullable=True)),
    ("collaboration_opportunity", sa.Column("updated_by", sa.String(200), nullable=True)),
]


def upgrade() -> None:
    add_columns(S, *FOLLOWED)
    create_index(S, "collaboration_opportunity", "status")
    op.create_table(
        "collaboration_check_in",
        sa.Column("opportunity_id", sa.Uuid, sa.ForeignKey(f"{S}.collaboration_opportunity.id"), primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("reminded_at", TZ, nullable=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("update", sa.Text, nullable=True),
        schema=S,
    )
    create_index(S, "collaboration_check_in", "due_at")
    for months in (3, 6, 12):
        op.execute(
            f"INSERT INTO {S}.collaboration_check_in (opportunity_id, month, due_at) "
            f"SELECT id, {months}, created_at + interval '{months} months' FROM {S}.collaboration_opportunity"
        )


def downgrade() -> None:
    op.drop_table("collaboration_check_in", schema=S)
    drop_index(S, "collaboration_opportunity", "status")
    drop_columns(S, *FOLLOWED)
