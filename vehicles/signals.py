"""Signals the sync engine sends, for apps above it to follow synced data without being imported by it."""

from django.dispatch import Signal

# Sent after a group of vehicles' readings is committed in a sync round; ``vehicle_ids``: the vehicles stored.
# Receivers run in the round's process: they must be quick and must not raise (sent with send_robust).
readings_stored = Signal()
