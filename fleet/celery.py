"""The Celery application. Tasks live in each app's ``tasks.py`` and are found by autodiscovery.

Reliability choices (every task here talks to vehicles or the database and must survive a
worker that dies mid-task):

- ``task_acks_late``: a message is acknowledged only after its task finished, so a task
  running on a worker that crashes is delivered again. Every task is therefore idempotent.
- ``task_reject_on_worker_lost``: when the worker process is killed (OOM, SIGKILL) the message
  goes back to the queue instead of being acknowledged as failed.
- ``worker_prefetch_multiplier = 1``: tasks wait for vehicles for seconds; a worker must not
  hoard messages that an idle worker could run.
- time limits (settings.CELERY_TASK_TIME_LIMIT, 660 s): a vehicle round trip may take up to 300 s
  (Smartcar's documented ceiling); a task past the soft limit gets an exception it can clean up
  after, past the hard limit it is killed, so a hung call never holds a worker slot for ever.
- periodic tasks: one schedule in ``fleet/schedule.py``, run by exactly one ``celery beat``.
"""

import os

from celery import Celery

import fleet.broker  # noqa: F401 — the file-system broker's atomic messages, before any connection is made

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleet.settings")

app = Celery("fleet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()


def _beat_schedule():
    from fleet.schedule import beat_schedule

    return beat_schedule()


app.conf.beat_schedule = _beat_schedule()
