"""The relay's lease and the inbox's status (revision 0007, after 0006): one relay publishes at a time
without holding a transaction across broker I/O, and dead-lettered events are recorded in the inbox."""

from shared.migrations import relay_lease_and_inbox_status

revision = "0007"
down_revision = "0006"
upgrade, downgrade = relay_lease_and_inbox_status("pairing")
