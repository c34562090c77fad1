"""organisation.retired_at: an organisation the programme team retired takes no new applications
(revision 0009, after 0008)."""

from shared.migrations import timestamp_added

revision = "0009"
down_revision = "0008"
upgrade, downgrade = timestamp_added("applications", "organisation", "retired_at")
