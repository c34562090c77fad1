"""Self-assessment (revision 0009, after 0008): a fellow's own view on the leadership dimensions before
and after the programme, private to them."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "self_assessment",
        sa.Column("fellow_id", sa.Uuid, primary_key=True),
        sa.Column("stage", sa.String(10), primary_key=True),
        sa.Column("cohort_id", sa.Uuid, nullable=False, index=True),
        sa.Column("strengths", JSON, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        schema="feedback",
    )


def downgrade() -> None:
    op.drop_table("self_assessment", schema="feedback")
