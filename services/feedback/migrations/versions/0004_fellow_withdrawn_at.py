"""fellow.withdrawn_at: a fellow whose application was withdrawn acts as that fellow no more

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fellow", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True), schema="feedback")


def downgrade() -> None:
    op.drop_column("fellow", "withdrawn_at", schema="feedback")
