"""Entry point of omniq-nats. It registers no types yet: its backend lands in a later issue."""
