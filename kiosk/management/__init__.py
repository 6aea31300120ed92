"""Being a managed endpoint: enrollment, the cached credential and config, the channel."""
