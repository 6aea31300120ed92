"""The reference clinic service: rooms, members, tokens, signalling and web pages."""
