"""Shadowing (revision 0011, after 0010): the learner's reflection after the visit, a thank-you the sharer
reads (free text: it stays in this schema)."""

import sqlalchemy as sa
from alembic import op

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


def downgrade() -> None:
    op.drop_table("shadowing_reflection", schema=S)
