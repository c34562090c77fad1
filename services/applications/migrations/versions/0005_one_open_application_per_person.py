"""One open application per person and cohort, not one application ever (revision 0005, after 0004).

The unique index on (cohort, lower(e-mail)) refused a second application even after the first was
withdrawn or declined, yet let one token subject apply under several e-mail addresses. Two partial
unique indexes replace it, over open applications only: (cohort, lower(e-mail)) and (cohort, owner).
A person who withdrew (or was declined) may apply again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

OPEN = sa.text("state IN ('submitted', 'endorsed', 'shortlisted', 'waitlisted', 'enrolled')")

_TWICE_OPEN = """
SELECT count(*) FROM (
    SELECT 1 FROM applications.application WHERE {open}
    GROUP BY cohort_id, owner_sub HAVING count(*) > 1
) AS twice
"""


def _unique(name: str, columns: list[str | sa.ColumnElement[str]], where: sa.TextClause | None = None) -> None:
    op.create_index(name, "application", columns, unique=True, schema="applications", postgresql_where=where)


def upgrade() -> None:
    twice = op.get_bind().scalar(sa.text(_TWICE_OPEN.format(open=OPEN.text)))
    if twice:
        raise RuntimeError(
            f"{twice} token subject(s) hold more than one open application to the same cohort: withdraw all but"
            " one of each (state 'withdrawn') before this migration can add the one-open-application rule"
        )
    op.drop_index("uq_application_cohort_email", table_name="application", schema="applications")
    _unique("uq_application_open_email", ["cohort_id", sa.literal_column("lower(email)")], OPEN)
    _unique("uq_application_open_owner", ["cohort_id", "owner_sub"], OPEN)


def downgrade() -> None:
    """Fails if a person has applied to a cohort again after withdrawing (two rows, one e-mail)."""
    op.drop_index("uq_application_open_owner", table_name="application", schema="applications")
    op.drop_index("uq_application_open_email", table_name="application", schema="applications")
    _unique("uq_application_cohort_email", ["cohort_id", sa.literal_column("lower(email)")])
