"""when the pairs of a cohort were published (from PairAssigned) (revision 0002, after 0001)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.add_column(
        "cohort", sa.Column("pairs_published_at", sa.DateTime(timezone=True), nullable=True), schema="applications"
    )


def downgrade() -> None:
    op.drop_column("cohort", "pairs_published_at", schema="applications")
