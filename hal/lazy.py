"""numpy, loaded on first use.

numpy adds about 10 MiB to a process. The idle daemon never needs it; the first call, the
fake camera's first frame or the fake microphone's first tone does. Modules that compute
with numpy import it from here so that merely importing them costs nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name``, executed on its first attribute access (the importlib LazyLoader recipe)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
