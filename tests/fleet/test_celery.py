"""A real Celery worker consumes a real Redis broker."""

import uuid

import pytest
from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker

import fleet.tasks  # noqa: F401  (registers the shared tasks with every app, this one included)
from fleet.celery import app as project_app


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_through_a_real_worker_and_redis(redis_url):
    # A Celery app of its own, configured like fleet.celery's but on Redis, with a queue of its
    # own so that test runs started at the same time never take each other's messages.
    app = Celery("fleet-integration", broker=redis_url, backend=redis_url, set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=redis_url,
        result_backend=redis_url,
        task_always_eager=False,
        task_default_queue=f"test-{uuid.uuid4()}",
        task_ignore_result=False,
    )
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            result = app.send_task("fleet.tasks.ping", args=["through redis"])
            assert result.get(timeout=20) == "through redis"
            assert result.status == "SUCCESS"
    finally:
        # A starting worker makes its app the current and default one; every other test runs on the project's.
        project_app.set_current()
        project_app.set_default()

    assert current_app._get_current_object() is project_app
