"""The installed software version, as reported to the clinic."""

from importlib.metadata import PackageNotFoundError, version

try:
    SOFTWARE_VERSION = version("clinic-kiosk")
except PackageNotFoundError:  # running from a source tree that was never installed
    SOFTWARE_VERSION = "0+unknown"
