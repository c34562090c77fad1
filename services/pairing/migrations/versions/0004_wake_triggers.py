"""NOTIFY on new rows that background workers act on, so every instance wakes (revision 0004, after 0003)."""

from shared.migrations import wake_triggers

revision = "0004"
down_revision = "0003"
upgrade, downgrade = wake_triggers("pairing", "outbox")
