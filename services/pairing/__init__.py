"""The pairing service."""
