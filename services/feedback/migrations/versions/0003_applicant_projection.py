"""applicant projection: which token subject applied with which application (revision 0003, after 0002)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.create_table(
        "applicant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applicant")),
        schema="feedback",
    )
    op.create_index(op.f("ix_feedback_applicant_subject"), "applicant", ["subject"], unique=False, schema="feedback")


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_applicant_subject"), table_name="applicant", schema="feedback")
    op.drop_table("applicant", schema="feedback")
