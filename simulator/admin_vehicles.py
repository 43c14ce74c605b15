"""Admin for simulated vehicles, their state, fault settings and billing counters."""
