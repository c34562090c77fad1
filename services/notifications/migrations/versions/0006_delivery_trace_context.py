"""The trace context a delivery was recorded in (revision 0006, after 0005): with tracing on, the
delivery worker's SMTP span continues the trace of the event that caused the e-mail."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

SCHEMA = "notifications"


def upgrade() -> None:
    op.add_column("delivery", sa.Column("traceparent", sa.String(55)), schema=SCHEMA)
    op.add_column("delivery", sa.Column("tracestate", sa.String(512)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("delivery", "tracestate", schema=SCHEMA)
    op.drop_column("delivery", "traceparent", schema=SCHEMA)
