"""NOTIFY on new rows that background workers act on, so every instance wakes (revision 0003, after 0002)."""

from shared.migrations import wake_triggers

revision = "0003"
down_revision = "0002"
upgrade, downgrade = wake_triggers("notifications", "outbox", "delivery")
