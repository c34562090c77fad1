"""applicant: which token subject made which application, from ContactRecorded (revision 0003, after 0002)."""

from shared.migrations import applicants_table

revision = "0003"
down_revision = "0002"
upgrade, downgrade = applicants_table("pairing")
