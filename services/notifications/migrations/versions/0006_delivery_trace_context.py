"""The trace context a delivery was recorded in (revision 0006, after 0005): with tracing on, the
delivery worker's SMTP span continues the trace of the event that caused the e-mail."""

import sqlalchemy as sa

from shared.migrations import columns_added

revision = "0006"
down_revision = "0005"
upgrade, downgrade = columns_added(
    "notifications",
    ("delivery", sa.Column("traceparent", sa.String(55))),
    ("delivery", sa.Column("tracestate", sa.String(512))),
)
