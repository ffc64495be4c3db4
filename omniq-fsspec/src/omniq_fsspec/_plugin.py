"""Entry point of omniq-fsspec. It registers no types yet: its backend lands in a later issue."""
