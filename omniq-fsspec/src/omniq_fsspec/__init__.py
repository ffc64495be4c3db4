"""omniq-fsspec: not implemented yet; installing it registers no types."""
