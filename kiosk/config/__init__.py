"""Bootstrap settings (this module) and the device config set by the clinic admin."""

from kiosk.config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
