"""organisation.retired_at: an organisation the programme team retired takes no new applications
(revision 0009, after 0008)."""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column(
        "organisation", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True), schema="applications"
    )


def downgrade() -> None:
    op.drop_column("organisation", "retired_at", schema="applications")
