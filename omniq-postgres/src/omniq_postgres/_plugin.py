"""Entry point of omniq-postgres (registrations land with the backend)."""
