"""Programme kinds (revision 0008, after 0007): a fellow's role and places (FellowEnrolled.role and
.capacity), a round's kind (PairingRequested.kind) and each pair's roles. Existing rows are exchange
fellows with one place, which the server defaults say."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"

S = "pairing"


def upgrade() -> None:
    op.add_column("fellow", sa.Column("role", sa.String(10), nullable=False, server_default="fellow"), schema=S)
    op.add_column("fellow", sa.Column("capacity", sa.Integer, nullable=False, server_default="1"), schema=S)
    op.add_column(
        "pairing_round", sa.Column("kind", sa.String(20), nullable=False, server_default="exchange"), schema=S
    )
    roles = sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'"))
    op.add_column("pair", roles, schema=S)


def downgrade() -> None:
    op.drop_column("pair", "roles", schema=S)
    op.drop_column("pairing_round", "kind", schema=S)
    op.drop_column("fellow", "capacity", schema=S)
    op.drop_column("fellow", "role", schema=S)
