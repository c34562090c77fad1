"""Calendar invitations (revision 0005, after 0004): each visit's or mentoring meeting's calendar entry,
its revision and when it is, so that an update and a cancellation carry the same uid with a higher
SEQUENCE."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

S = "notifications"


def upgrade() -> None:
    op.create_table(
        "calendar_entry",
        sa.Column("uid", sa.Uuid, primary_key=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("starts_at", sa.Time, nullable=True),
        sa.Column("minutes", sa.Integer, nullable=True),
        sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("calendar_entry", schema=S)
