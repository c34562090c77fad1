"""Beyond Boundaries command line and development stack."""
