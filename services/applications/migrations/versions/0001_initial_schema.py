"""initial schema (revision 0001)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("place", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_code")),
        schema="applications",
    )
    create_outbox_and_inbox("applications")
    op.create_table(
        "programme",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme")),
        sa.UniqueConstraint("name", name=op.f("uq_programme_name")),
        schema="applications",
    )
    op.create_table(
        "cohort",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("pairing_mode", sa.String(length=20), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exchange_starts", sa.Date(), nullable=False),
        sa.Column("exchange_ends", sa.Date(), nullable=False),
        sa.Column("auto_publish", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["applications.programme.id"], name=op.f("fk_cohort_programme_id_programme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort")),
        schema="applications",
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("owner_sub", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("job_title", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("staff_group", sa.String(length=20), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column(
            "availability",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "interests", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "equality", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["applications.cohort.id"], name=op.f("fk_application_cohort_id_cohort")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["applications.organisation.id"],
            name=op.f("fk_application_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        schema="applications",
    )
    op.create_index(
        op.f("ix_applications_application_cohort_id"), "application", ["cohort_id"], unique=False, schema="applications"
    )
    op.create_index(
        op.f("ix_applications_application_organisation_id"),
        "application",
        ["organisation_id"],
        unique=False,
        schema="applications",
    )
    op.create_index(
        op.f("ix_applications_application_owner_sub"), "application", ["owner_sub"], unique=False, schema="applications"
    )
    op.create_index(
        op.f("ix_applications_application_state"), "application", ["state"], unique=False, schema="applications"
    )
    op.create_index(
        "uq_application_cohort_email",
        "application",
        ["cohort_id", sa.literal_column("lower(email)")],
        unique=True,
        schema="applications",
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.application.id"], name=op.f("fk_decision_application_id_application")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        schema="applications",
    )
    op.create_index(
        op.f("ix_applications_decision_application_id"),
        "decision",
        ["application_id"],
        unique=False,
        schema="applications",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_applications_decision_application_id"), table_name="decision", schema="applications")
    op.drop_table("decision", schema="applications")
    op.drop_index("uq_application_cohort_email", table_name="application", schema="applications")
    op.drop_index(op.f("ix_applications_application_state"), table_name="application", schema="applications")
    op.drop_index(op.f("ix_applications_application_owner_sub"), table_name="application", schema="applications")
    op.drop_index(op.f("ix_applications_application_organisation_id"), table_name="application", schema="applications")
    op.drop_index(op.f("ix_applications_application_cohort_id"), table_name="application", schema="applications")
    op.drop_table("application", schema="applications")
    op.drop_table("cohort", schema="applications")
    op.drop_table("programme", schema="applications")
    drop_outbox_and_inbox("applications")
    op.drop_table("organisation", schema="applications")
