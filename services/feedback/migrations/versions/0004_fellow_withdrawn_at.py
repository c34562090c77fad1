"""fellow.withdrawn_at: a withdrawn fellow acts as that fellow no more (revision 0004, after 0003)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    op.add_column("fellow", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True), schema="feedback")


def downgrade() -> None:
    op.drop_column("fellow", "withdrawn_at", schema="feedback")
