"""The board's rules of a cohort (issue 19): exclusions, locked pairs, its own weights; and the applicant's
declared conflicts (person pseudonyms, from ContactRecorded) (revision 0006, after 0005)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON, drop_tables

revision = "0006"
down_revision = "0005"


def _pair_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("cohort_id", sa.Uuid(), primary_key=True),
        sa.Column("fellow_a", sa.Uuid(), primary_key=True),
        sa.Column("fellow_b", sa.Uuid(), primary_key=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema="pairing",
    )


def upgrade() -> None:
    op.add_column(
        "applicant", sa.Column("conflicts", JSON, server_default=sa.text("'[]'"), nullable=False), schema="pairing"
    )
    _pair_table("exclusion")
    _pair_table("pair_lock")
    op.create_table(
        "cohort_weights",
        sa.Column("cohort_id", sa.Uuid(), primary_key=True),
        sa.Column("weights", JSON, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="pairing",
    )


def downgrade() -> None:
    drop_tables("pairing", "cohort_weights", "pair_lock", "exclusion")
    op.drop_column("applicant", "conflicts", schema="pairing")
