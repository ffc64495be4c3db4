"""omniq-redis (in progress)."""
