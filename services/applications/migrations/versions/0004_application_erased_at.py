"""application.erased_at: when its personal details were erased or anonymised (revision 0004, after 0003)."""

from shared.migrations import timestamp_added

revision = "0004"
down_revision = "0003"
upgrade, downgrade = timestamp_added("applications", "application", "erased_at")
