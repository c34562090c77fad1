"""cohort.places_per_organisation: where a programme caps them, how many of a cohort's places one
organisation may hold (null: no cap) (revision 0010, after 0009)."""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

CHECK = "ck_cohort_places_per_organisation_positive"


def upgrade() -> None:
    op.add_column("cohort", sa.Column("places_per_organisation", sa.Integer(), nullable=True), schema="applications")
    op.create_check_constraint(
        op.f(CHECK),  # the full name: the metadata's naming convention would prefix it again
        "cohort",
        "places_per_organisation IS NULL OR places_per_organisation >= 1",
        schema="applications",
    )


def downgrade() -> None:
    op.drop_constraint(op.f(CHECK), "cohort", schema="applications", type_="check")
    op.drop_column("cohort", "places_per_organisation", schema="applications")
