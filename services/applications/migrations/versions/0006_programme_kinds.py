"""Programme kinds and roles (revision 0006, after 0005): a cohort's kind, whether it is reciprocal and
enrols endorsed applications at once; an application's role, places, offer and wants. Existing rows are
exchange cohorts of fellows, which the server defaults say."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"

S = "applications"
JSON = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.add_column("cohort", sa.Column("kind", sa.String(20), nullable=False, server_default="exchange"), schema=S)
    op.add_column("cohort", sa.Column("reciprocal", sa.Boolean, nullable=False, server_default=sa.false()), schema=S)
    op.add_column("cohort", sa.Column("auto_enrol", sa.Boolean, nullable=False, server_default=sa.false()), schema=S)
    op.add_column("application", sa.Column("role", sa.String(10), nullable=False, server_default="fellow"), schema=S)
    op.add_column("application", sa.Column("capacity", sa.Integer, nullable=False, server_default="1"), schema=S)
    op.add_column("application", sa.Column("offer", JSON, nullable=True), schema=S)
    op.add_column("application", sa.Column("wants", JSON, nullable=False, server_default=sa.text("'[]'")), schema=S)


def downgrade() -> None:
    for column in ("wants", "offer", "capacity", "role"):
        op.drop_column("application", column, schema=S)
    for column in ("auto_enrol", "reciprocal", "kind"):
        op.drop_column("cohort", column, schema=S)
