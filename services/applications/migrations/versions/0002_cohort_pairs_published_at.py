"""when the pairs of a cohort were published (from PairAssigned)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cohort", sa.Column("pairs_published_at", sa.DateTime(timezone=True), nullable=True), schema="applications"
    )


def downgrade() -> None:
    op.drop_column("cohort", "pairs_published_at", schema="applications")
