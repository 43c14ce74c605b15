"""Periodic work of the simulated platform."""
