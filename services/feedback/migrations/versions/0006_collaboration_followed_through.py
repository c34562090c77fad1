"""Collaboration followed through (revision 0006, after 0005): an opportunity's status, next step and
reason for dropping it, and its check-ins 3, 6 and 12 months after the exchange. Opportunities made
before this revision start as ideas, their check-ins counted from when they were identified."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

S = "feedback"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    add = op.add_column
    add(
        "collaboration_opportunity", sa.Column("status", sa.String(20), nullable=False, server_default="idea"), schema=S
    )
    add("collaboration_opportunity", sa.Column("next_step", sa.Text, nullable=True), schema=S)
    add("collaboration_opportunity", sa.Column("dropped_reason", sa.Text, nullable=True), schema=S)
    add("collaboration_opportunity", sa.Column("updated_at", TZ, nullable=True), schema=S)
    add("collaboration_opportunity", sa.Column("updated_by", sa.String(200), nullable=True), schema=S)
    op.create_index("ix_feedback_collaboration_opportunity_status", "collaboration_opportunity", ["status"], schema=S)
    op.create_table(
        "collaboration_check_in",
        sa.Column("opportunity_id", sa.Uuid, sa.ForeignKey(f"{S}.collaboration_opportunity.id"), primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("reminded_at", TZ, nullable=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("update", sa.Text, nullable=True),
        schema=S,
    )
    op.create_index("ix_feedback_collaboration_check_in_due_at", "collaboration_check_in", ["due_at"], schema=S)
    for months in (3, 6, 12):
        op.execute(
            f"INSERT INTO {S}.collaboration_check_in (opportunity_id, month, due_at) "
            f"SELECT id, {months}, created_at + interval '{months} months' FROM {S}.collaboration_opportunity"
        )


def downgrade() -> None:
    op.drop_table("collaboration_check_in", schema=S)
    op.drop_index("ix_feedback_collaboration_opportunity_status", table_name="collaboration_opportunity", schema=S)
    for column in ("updated_by", "updated_at", "dropped_reason", "next_step", "status"):
        op.drop_column("collaboration_opportunity", column, schema=S)
