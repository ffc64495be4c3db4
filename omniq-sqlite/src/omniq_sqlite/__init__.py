"""omniq-sqlite (in progress)."""
