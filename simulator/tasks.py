"""Periodic work of the simulated platform."""

from simulator.tasks_webhooks import webhook_deliveries_retry, webhook_delivery_attempt  # noqa: F401
