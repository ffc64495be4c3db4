"""omniq-nats: not implemented yet; installing it registers no types."""
