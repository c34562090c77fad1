"""Programme kinds and roles (revision 0006, after 0005): a cohort's kind, whether it is reciprocal and
enrols endorsed applications at once; an application's role, places, offer and wants. Existing rows are
exchange cohorts of fellows, which the server defaults say."""

import sqlalchemy as sa

from shared.migrations import JSON, columns_added

revision = "0006"
down_revision = "0005"
upgrade, downgrade = columns_added(
    "applications",
    ("cohort", sa.Column("kind", sa.String(20), nullable=False, server_default="exchange")),
    ("cohort", sa.Column("reciprocal", sa.Boolean, nullable=False, server_default=sa.false())),
    ("cohort", sa.Column("auto_enrol", sa.Boolean, nullable=False, server_default=sa.false())),
    ("application", sa.Column("role", sa.String(10), nullable=False, server_default="fellow")),
    ("application", sa.Column("capacity", sa.Integer, nullable=False, server_default="1")),
    ("application", sa.Column("offer", JSON, nullable=True)),
    ("application", sa.Column("wants", JSON, nullable=False, server_default=sa.text("'[]'"))),
)
