"""person id of fellows and earlier pairings across cohorts (revision 0002, after 0001)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.add_column("fellow", sa.Column("person_id", sa.Uuid(), nullable=True), schema="pairing")
    op.create_index(op.f("ix_pairing_fellow_person_id"), "fellow", ["person_id"], unique=False, schema="pairing")
    op.create_table(
        "earlier_pairing",
        sa.Column("person_a", sa.Uuid(), nullable=False),
        sa.Column("person_b", sa.Uuid(), nullable=False),
        sa.Column("pair_id", sa.Uuid(), nullable=False),
        sa.Column("paired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person_a", "person_b", name=op.f("pk_earlier_pairing")),
        schema="pairing",
    )


def downgrade() -> None:
    op.drop_table("earlier_pairing", schema="pairing")
    op.drop_index(op.f("ix_pairing_fellow_person_id"), table_name="fellow", schema="pairing")
    op.drop_column("fellow", "person_id", schema="pairing")
