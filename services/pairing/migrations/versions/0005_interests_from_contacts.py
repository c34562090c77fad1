"""interests move from the fellow (FellowEnrolled, an integration topic) to the applicant projection
(ContactRecorded, the internal contacts topic) (revision 0005, after 0004)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import JSON

revision = "0005"
down_revision = "0004"


def _move(source: str, target: str, source_key: str, target_key: str) -> None:
    """The interests column from one table to the other, values and all."""
    op.add_column(
        target, sa.Column("interests", JSON, server_default=sa.text("'[]'"), nullable=False), schema="pairing"
    )
    op.execute(
        f"UPDATE pairing.{target} t SET interests = s.interests FROM pairing.{source} s"
        f" WHERE s.{source_key} = t.{target_key}"
    )
    op.drop_column(source, "interests", schema="pairing")


def upgrade() -> None:
    _move("fellow", "applicant", "id", "application_id")


def downgrade() -> None:
    _move("applicant", "fellow", "application_id", "id")
