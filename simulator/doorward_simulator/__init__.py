"""Simulated doorbells that speak the Doorward doorbell protocol, for tests and demos.

`SimulatedDoorbell` and `Simulator` load on first use, so the command line (and the hub's, which
registers these commands) starts without PyAV or zeroconf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .device import SimulatedDoorbell, Simulator

__version__ = "0.1.0"
__all__ = ["SimulatedDoorbell", "Simulator", "__version__"]


def __getattr__(name: str) -> object:
    if name in {"SimulatedDoorbell", "Simulator"}:
        from . import device  # noqa: PLC0415 - lazy on purpose, see the module docstring

        return getattr(device, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
