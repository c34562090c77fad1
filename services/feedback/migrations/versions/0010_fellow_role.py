"""A fellow's role in the cohort's kind (revision 0010, after 0009): in shadowing the learner's reflection
to the sharer needs no ratings, and only the learner writes."""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.add_column(
        "fellow", sa.Column("role", sa.String(20), nullable=False, server_default="fellow"), schema="feedback"
    )


def downgrade() -> None:
    op.drop_column("fellow", "role", schema="feedback")
