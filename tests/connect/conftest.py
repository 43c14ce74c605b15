"""Set-up for tests that talk to the simulated Smartcar platform through the real HTTP stack.

The shared fixtures (``simulator_app``, ``simulated_grant``, ``account``) are in tests/conftest.py.
"""


def simulator_refresh_count() -> int:
    from simulator.oauth import refresh_count

    return refresh_count()
