"""The simulated Smartcar API v3: application tokens, the Vehicle API, the Management API and v4.0 webhooks.

Written from ../shared/smartcar-api-v3/ (each module names its pages), independently of the app's v3 transport.
It shares the v2 simulator's world (vehicles, connections, faults, billing): a vehicle is the same car whichever
API version reads it.
"""
