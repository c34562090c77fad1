"""fellow.erased_at: the person was erased; what they wrote for others reads as from "a former fellow"
(revision 0007, after 0006)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    op.add_column("fellow", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True), schema="feedback")


def downgrade() -> None:
    op.drop_column("fellow", "erased_at", schema="feedback")
