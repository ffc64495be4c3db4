"""Entry point of omniq-redis (registrations land with the backend)."""
