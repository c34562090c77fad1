"""cohort.places_per_organisation: where a programme caps them, how many of a cohort's places one
organisation may hold (null: no cap) (revision 0010, after 0009)."""

import sqlalchemy as sa
from alembic import op

from shared.migrations import add_columns, drop_columns

revision = "0010"
down_revision = "0009"

S = "applications"
CHECK = "ck_cohort_places_per_organisation_positive"
PLACES = ("cohort", sa.Column("places_per_organisation", sa.Integer(), nullable=True))


def upgrade() -> None:
    add_columns(S, PLACES)
    op.create_check_constraint(
        op.f(CHECK),  # the full name: the metadata's naming convention would prefix it again
        "cohort",
        "places_per_organisation IS NULL OR places_per_organisation >= 1",
        schema=S,
    )


def downgrade() -> None:
    op.drop_constraint(op.f(CHECK), "cohort", schema=S, type_="check")
    drop_columns(S, PLACES)
