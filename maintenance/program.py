"""Writes to a fleet's service program — a service added, changed, its vehicles chosen by hand, removed — each one
recorded (maintenance/changes.py) and shown on the program's pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet

from fleet.models import Fleet
from maintenance import changes
from maintenance.models import Change, ChangeAction, ServiceTask

if TYPE_CHECKING:
    from maintenance.forms import ServiceTaskForm

FIELDS = (*changes.TASK_FIELDS, "vehicles")


@transaction.atomic
def service_task_save(*, form: ServiceTaskForm, user) -> ServiceTask:
    """Saves a valid form (a new service or a change) and records what it set or changed."""
    adding = form.instance.pk is None
    # The form has already written the new values onto its instance: the record compares with the stored row.
    before = {} if adding else changes.values(ServiceTask.objects.get(pk=form.instance.pk), FIELDS)
    task = form.save()
    changed = changes.diff(before, changes.values(task, FIELDS))
    if adding or changed:
        changes.record(
            fleet=task.fleet, user=user, action=ChangeAction.ADDED if adding else ChangeAction.CHANGED,
            fields=changed, subject=task.name, service_task=task,
        )  # fmt: skip
    return task


@transaction.atomic
def service_task_remove(*, task: ServiceTask, user) -> None:
    """Removes a service from the program; its record stays, named, and its finished work orders keep their costs."""
    changes.record(fleet=task.fleet, user=user, action=ChangeAction.REMOVED, subject=task.name, service_task=task)
    task.delete()


def program_changes(fleet: Fleet, limit: int = 20) -> QuerySet[Change]:
    """The program's own changes (not its work orders'), newest first."""
    recent = Change.objects.filter(fleet=fleet, work_order__isnull=True).select_related("user", "vehicle")
    return recent.order_by("-at", "-pk")[:limit]


def task_changes(task: ServiceTask) -> QuerySet[Change]:
    """A service's changes and the due points its finished work reset, newest first."""
    return task.changes.select_related("user", "vehicle").order_by("-at", "-pk")
