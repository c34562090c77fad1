"""Paired learning (revision 0010, after 0009): a pair's joint improvement project, its milestones and
its presentation."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import drop_tables

revision = "0010"
down_revision = "0009"

S = "pairing"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("pair_id", sa.Uuid, sa.ForeignKey(f"{S}.pair.id"), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("aim", sa.Text, nullable=False),
        sa.Column("measure", sa.Text, nullable=False),
        sa.Column("presented_on", sa.Date, nullable=True),
        sa.Column("presentation_summary", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        schema=S,
    )
    op.create_table(
        "project_milestone",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("project_id", sa.Uuid, sa.ForeignKey(f"{S}.project.id"), nullable=False, index=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("done_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    drop_tables(S, "project_milestone", "project")
