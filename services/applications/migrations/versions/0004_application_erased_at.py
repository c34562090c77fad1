"""application.erased_at: when its personal details were erased or anonymised (revision 0004, after 0003)."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column(
        "application", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True), schema="applications"
    )


def downgrade() -> None:
    op.drop_column("application", "erased_at", schema="applications")
