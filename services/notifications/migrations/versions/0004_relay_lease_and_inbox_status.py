"""The relay's lease and the inbox's status (revision 0004, after 0003): one relay publishes at a time
without holding a transaction across broker I/O, and dead-lettered events are recorded in the inbox."""

from shared.migrations import relay_lease_and_inbox_status

revision = "0004"
down_revision = "0003"
upgrade, downgrade = relay_lease_and_inbox_status("notifications")
