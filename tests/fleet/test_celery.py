"""A real Celery worker consumes a real Redis broker."""

import pytest
from celery.contrib.testing.worker import start_worker

from fleet.celery import app
from fleet.tasks import ping


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_through_a_real_worker_and_redis(redis_url):
    saved = {key: app.conf[key] for key in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            result = ping.apply_async(["through redis"], ignore_result=False)
            assert result.get(timeout=20) == "through redis"
            assert result.status == "SUCCESS"
    finally:
        app.conf.update(saved)
