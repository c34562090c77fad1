"""applicant: which token subject made an application (from ContactRecorded) (revision 0003, after 0002)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.create_table(
        "applicant",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_applicant")),
        schema="pairing",
    )
    op.create_index(op.f("ix_pairing_applicant_subject"), "applicant", ["subject"], unique=False, schema="pairing")


def downgrade() -> None:
    op.drop_index(op.f("ix_pairing_applicant_subject"), table_name="applicant", schema="pairing")
    op.drop_table("applicant", schema="pairing")
