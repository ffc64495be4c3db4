"""Entry point of omniq-gevent. It registers no types yet: its backend lands in a later issue."""
