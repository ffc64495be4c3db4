"""Entry point of omniq-sqlite (registrations land with the backend)."""
