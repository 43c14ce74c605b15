"""The background sync engine: lease due vehicles, read their due paths, store what came back.

A round, file by file (round.py lists its steps):

- leasing.py     which round holds a vehicle: claims, renewals, releases; the dispatcher
- outage.py      a database outage as a round meets it
- planning.py    which paths of each vehicle a round reads (poll set, cadence, back-off, brand limit, budget)
- fetching.py    the HTTP calls, on a pool of threads that touch no database
- storing.py     answers applied to a vehicle's rows, and groups of vehicles written in one transaction
- diagnostics.py DTCs and system statuses of a group
- answers.py     what each error does to its endpoint and vehicle (pure)
- schedule.py    when an endpoint and its vehicle are next read, and why (pure)
- activity.py    what the vehicle is doing, judged from its readings (pure)
- rows.py        many rows in one statement
- services.py    "Sync now", resuming after a reconnect, billing pauses

Other modules call only the names below.
"""

from vehicles.sync.leasing import vehicles_dispatch, vehicles_ensure_sync_rows, vehicles_lease, vehicles_lease_due
from vehicles.sync.round import RoundReport, vehicles_sync
from vehicles.sync.services import fleet_billing_pause, fleet_sync_resume, vehicle_sync_now, vehicle_sync_resume

__all__ = [
    "RoundReport",
    "fleet_billing_pause",
    "fleet_sync_resume",
    "vehicle_sync_now",
    "vehicle_sync_resume",
    "vehicles_dispatch",
    "vehicles_ensure_sync_rows",
    "vehicles_lease",
    "vehicles_lease_due",
    "vehicles_sync",
]
