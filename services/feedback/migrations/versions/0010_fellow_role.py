"""A fellow's role in the cohort's kind (revision 0010, after 0009): in shadowing the learner's reflection
to the sharer needs no ratings, and only the learner writes."""

import sqlalchemy as sa

from shared.migrations import columns_added

revision = "0010"
down_revision = "0009"
upgrade, downgrade = columns_added(
    "feedback", ("fellow", sa.Column("role", sa.String(20), nullable=False, server_default="fellow"))
)
