"""fellow projection, release and correction state (revision 0002, after 0001)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, TZ, add_columns, create_index, drop_columns, drop_index

revision: str = "0002"
down_revision: str | None = "0001"

S = "feedback"

ADDED = [
    ("collaboration_opportunity", sa.Column("organisation_ids", JSON, server_default="[]", nullable=False)),
    ("exchange_pair", sa.Column("due_at", TZ, nullable=True)),
    ("exchange_pair", sa.Column("released_at", TZ, nullable=True)),
    ("exchange_pair", sa.Column("release_reason", sa.String(length=20), nullable=True)),
]
CORRECTED = [
    ("feedback", sa.Column("top_strengths", JSON, server_default="[]", nullable=False)),
    ("feedback", sa.Column("corrected_at", TZ, nullable=True)),
    ("feedback_request", sa.Column("missing_at", TZ, nullable=True)),
]


def upgrade() -> None:
    op.create_table(
        "fellow",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("cohort_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=50), nullable=False),
        sa.Column("sector", sa.String(length=50), nullable=False),
        sa.Column("place", sa.String(length=50), nullable=False),
        sa.Column("enrolled_at", TZ, nullable=False),
        schema=S,
    )
    add_columns(S, *ADDED)
    create_index(S, "exchange_pair", "due_at")
    add_columns(S, *CORRECTED)


def downgrade() -> None:
    drop_columns(S, *CORRECTED)
    drop_index(S, "exchange_pair", "due_at")
    drop_columns(S, *ADDED)
    op.drop_table("fellow", schema=S)
