"""The signalling protocol: wire messages, join tokens, the room hub and its server.

Written once; the clinic service and a kiosk's LAN fallback both run it.
"""
