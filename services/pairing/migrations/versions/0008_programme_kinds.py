"""Programme kinds (revision 0008, after 0007): a fellow's role and places (FellowEnrolled.role and
.capacity), a round's kind (PairingRequested.kind) and each pair's roles. Existing rows are exchange
fellows with one place, which the server defaults say."""

import sqlalchemy as sa

from shared.migrations import JSON, columns_added

revision = "0008"
down_revision = "0007"
upgrade, downgrade = columns_added(
    "pairing",
    ("fellow", sa.Column("role", sa.String(10), nullable=False, server_default="fellow")),
    ("fellow", sa.Column("capacity", sa.Integer, nullable=False, server_default="1")),
    ("pairing_round", sa.Column("kind", sa.String(20), nullable=False, server_default="exchange")),
    ("pair", sa.Column("roles", JSON, nullable=False, server_default=sa.text("'{}'"))),
)
