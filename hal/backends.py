"""Backend registry: an explicit name picks the backend, never a failed import."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from hal.bundle import Hal
from hal.config import HalConfig
from hal.errors import UnknownBackendError

# name -> "module:factory"; the module is imported only when that backend is chosen, so
# that picamera2/alsaaudio are needed only on a box.
_BACKENDS: dict[str, str] = {
    "fake": "hal.fake:build",
    "pi": "hal.pi:build",
}


def names() -> list[str]:
    return sorted(_BACKENDS)


def check_name(name: str) -> str:
    if name not in _BACKENDS:
        raise UnknownBackendError(f"unknown HAL backend {name!r}; choices: {', '.join(names())}")
    return name


def build(name: str, config: HalConfig) -> Hal:
    """Build (not start) the peripherals of backend ``name``."""
    module_name, _, attr = _BACKENDS[check_name(name)].partition(":")
    factory = cast(Callable[[HalConfig], Hal], getattr(importlib.import_module(module_name), attr))
    return factory(config)
