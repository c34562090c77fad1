"""fellow.erased_at: the person was erased; what they wrote for others reads as from "a former fellow"
(revision 0007, after 0006)."""

from shared.migrations import timestamp_added

revision: str = "0007"
down_revision: str | None = "0006"
upgrade, downgrade = timestamp_added("feedback", "fellow", "erased_at")
