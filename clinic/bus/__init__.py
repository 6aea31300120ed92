"""Several processes of one clinic service, sharing rooms, device channels, presence,
alerts and rate limits through Redis (`clinic serve --redis URL`)."""
