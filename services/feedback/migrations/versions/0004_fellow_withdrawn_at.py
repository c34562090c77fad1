"""fellow.withdrawn_at: a withdrawn fellow acts as that fellow no more (revision 0004, after 0003)."""

from shared.migrations import timestamp_added

revision: str = "0004"
down_revision: str | None = "0003"
upgrade, downgrade = timestamp_added("feedback", "fellow", "withdrawn_at")
