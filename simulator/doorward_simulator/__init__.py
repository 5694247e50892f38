"""Simulated doorbells that speak the Doorward doorbell protocol, for tests and demos."""

from .device import SimulatedDoorbell, Simulator

__all__ = ["SimulatedDoorbell", "Simulator"]
