"""omniq-postgres (in progress)."""
