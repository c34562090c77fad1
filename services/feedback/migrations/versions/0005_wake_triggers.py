"""NOTIFY on new rows that background workers act on, so every instance wakes (revision 0005, after 0004)."""

from shared.migrations import wake_triggers

revision = "0005"
down_revision = "0004"
upgrade, downgrade = wake_triggers("feedback", "outbox")
