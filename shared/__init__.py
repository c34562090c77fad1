"""Code that two or more Beyond Boundaries services use: contracts, envelope, plumbing."""
