"""when the pairs of a cohort were published (from PairAssigned) (revision 0002, after 0001)."""

from shared.migrations import timestamp_added

revision: str = "0002"
down_revision: str | None = "0001"
upgrade, downgrade = timestamp_added("applications", "cohort", "pairs_published_at")
