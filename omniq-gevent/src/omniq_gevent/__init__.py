"""omniq-gevent: not implemented yet; installing it registers no types."""
