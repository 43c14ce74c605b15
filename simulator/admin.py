# The simulator's admin, in two modules: the platform (applications, users, tokens, webhooks) and
# the vehicles (state, faults, billing).
from simulator import admin_platform, admin_vehicles  # noqa: F401
