"""One schedule applied to many vehicles of a make: choose, preview, run as a Celery task, see each vehicle's result.

Nissan and Tesla schedules are the same for every vehicle of the make, so they can be applied in bulk. Ford and
Lincoln schedules belong to each vehicle's own saved charging locations (different coordinates per vehicle), so
they are edited per vehicle only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django import forms as django_forms
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from charging import capabilities, forms, schedules, services
from charging.models import BulkScheduleRun, BulkScheduleTarget, BulkStatus, TargetStatus
from fleet.outbox import OutboxSource, enqueue
from vehicles.models import Vehicle

logger = logging.getLogger(__name__)

# A run whose task the broker did not take (down at that moment) is handed to a worker by the outbox sweep.
OUTBOX = OutboxSource(
    model="charging.BulkScheduleRun",
    task="charging.tasks.bulk_schedule_apply",
    pending=Q(status=BulkStatus.QUEUED),
    created_field="created_at",
)

BULK_MAKES = {"NISSAN": BulkScheduleRun.Kind.NISSAN, "TESLA": BulkScheduleRun.Kind.TESLA}


class VehicleChoiceField(django_forms.ModelMultipleChoiceField):
    def label_from_instance(self, vehicle):
        return f"{vehicle.display_name} · {vehicle.vin or vehicle.smartcar_id[:8]}"


class BulkVehiclesForm(django_forms.Form):
    vehicles = VehicleChoiceField(
        queryset=Vehicle.objects.none(),
        widget=django_forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one vehicle."},
    )

    def __init__(self, *args, fleet, make: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet = fleet
        feature = "nissan_schedule" if make == "NISSAN" else "tesla_schedule"
        candidates = Vehicle.objects.filter(fleet=fleet, make__iexact=make, disconnected_at=None)
        capable = [v.pk for v in candidates if capabilities.missing_reason(v, feature) is None]
        self.fields["vehicles"].queryset = candidates.filter(pk__in=capable)


@dataclass
class BulkForm:
    """The vehicles form plus the schedule form(s) of the make, validated together."""

    make: str
    vehicles: BulkVehiclesForm
    nissan: django_forms.BaseFormSet | None = None
    tesla: forms.TeslaScheduleForm | None = None

    def is_valid(self) -> bool:
        parts = [self.vehicles, self.nissan if self.make == "NISSAN" else self.tesla]
        results = [part.is_valid() for part in parts]  # every part validated, so every error is shown
        return all(results)


def bulk_form(fleet, make: str, data) -> BulkForm | None:
    if make not in BULK_MAKES:
        return None
    form = BulkForm(make=make, vehicles=BulkVehiclesForm(data, fleet=fleet, make=make))
    if make == "NISSAN":
        default = [{"start": "22:00", "end": "06:00", "days": list(schedules.WEEKDAYS[:5])}]
        form.nissan = (
            forms.DayWindowFormSet(data, prefix="nissan")
            if data is not None
            else forms.DayWindowFormSet(prefix="nissan", initial=default)
        )
    else:
        form.tesla = forms.TeslaScheduleForm(data, initial={"mode": schedules.START_TIME, "start_time": "23:00"})
    return form


def bulk_form_row_added(form: BulkForm) -> BulkForm:
    """The Nissan bulk form as entered, unvalidated, with one more schedule (see forms.formset_as_entered)."""
    vehicles = form.vehicles
    return BulkForm(
        make=form.make,
        vehicles=BulkVehiclesForm(initial=forms.as_entered(vehicles), fleet=vehicles.fleet, make=form.make),
        nissan=forms.formset_as_entered(form.nissan, new_row=forms.NEW_NISSAN_ROW),
    )


@dataclass
class BulkPreview:
    kind: str
    make: str
    vehicles: list[Vehicle]
    payload: dict
    summary: str


def bulk_preview(*, fleet, form: BulkForm) -> BulkPreview:
    vehicles = list(form.vehicles.cleaned_data["vehicles"])
    if form.make == "NISSAN":
        offset = services.fleet_offset_minutes(fleet)
        local = form.nissan.windows()
        utc = [schedules.nissan_local_to_utc(window, offset) for window in local]
        zone = fleet.get_time_zone_display()
        summary = "; ".join(f"{w.label} ({zone})" for w in local) or "No schedules (clears them)"
        return BulkPreview(BulkScheduleRun.Kind.NISSAN, form.make, vehicles, schedules.nissan_wire(utc), summary)
    wanted = form.tesla.wanted()
    labels = {"OFF": "No schedule", schedules.START_TIME: "Start charging at", schedules.DEPARTURE_TIME: "Ready by"}
    time = wanted.start_time if wanted.mode == schedules.START_TIME else wanted.departure_time
    summary = labels[wanted.mode] + (f" {schedules.format_hh_mm(time)}" if wanted.mode != "OFF" else "")
    return BulkPreview(BulkScheduleRun.Kind.TESLA, form.make, vehicles, {"wanted": wanted.as_dict()}, summary)


def bulk_run_start(*, fleet, user, preview: BulkPreview) -> BulkScheduleRun:
    from charging.tasks import bulk_schedule_apply

    with transaction.atomic():
        run = BulkScheduleRun.objects.create(
            fleet=fleet,
            kind=preview.kind,
            make=preview.make,
            payload=preview.payload,
            summary=preview.summary[:300],
            created_by=user,
        )
        BulkScheduleTarget.objects.bulk_create(
            [BulkScheduleTarget(run=run, vehicle=vehicle) for vehicle in preview.vehicles]
        )
        enqueue(bulk_schedule_apply, run.pk, row=run)
    return run


def _apply_one(run: BulkScheduleRun, target: BulkScheduleTarget) -> str:
    """Applies the run's schedule to one vehicle through the audited change machinery; returns its message."""
    vehicle = target.vehicle
    if run.kind == BulkScheduleRun.Kind.NISSAN:
        current = services.nissan_schedule_read(vehicle=vehicle)
        return services.charging_change_run(
            vehicle=vehicle,
            user=run.created_by,
            kind="nissan_schedule",
            params=run.payload,
            old_value=schedules.nissan_wire(current),
        )
    current = services.tesla_schedule_read(vehicle=vehicle)
    wanted = schedules.tesla_schedule_from_wire(run.payload["wanted"])
    requests = schedules.tesla_requests(current, wanted)
    if not requests:
        return "Already set."
    return services.charging_change_run(
        vehicle=vehicle,
        user=run.created_by,
        kind="tesla_schedule",
        params={"requests": requests, "wanted": run.payload["wanted"]},
        old_value=current.as_dict(),
    )


def bulk_run_execute(*, run: BulkScheduleRun) -> None:
    """Works through the run's pending targets; each vehicle's outcome is saved as soon as it is known.

    Re-running (a redelivered task) skips targets already finished, so no vehicle is changed twice.
    """
    BulkScheduleRun.objects.filter(pk=run.pk, status=BulkStatus.QUEUED).update(status=BulkStatus.RUNNING)
    for target in run.targets.filter(status=TargetStatus.PENDING).select_related("vehicle__account"):
        try:
            message = _apply_one(run, target)
            target.status, target.message = TargetStatus.APPLIED, message[:500]
        except SoftTimeLimitExceeded:
            raise  # the task goes on in a fresh one with the vehicles still pending (charging.tasks)
        except Exception as exc:  # one vehicle's failure must not stop the others
            if not isinstance(exc, services.EXPECTED_FAILURES):
                logger.exception("bulk run %s: vehicle %s failed unexpectedly", run.pk, target.vehicle_id)
            problem = services.problem_from(exc)
            target.status = TargetStatus.FAILED
            target.message = " ".join(part for part in (problem.message, problem.resolution) if part)[:500]
        target.finished_at = timezone.now()
        target.save(update_fields=["status", "message", "finished_at"])
    BulkScheduleRun.objects.filter(pk=run.pk).update(status=BulkStatus.DONE, finished_at=timezone.now())
    run.refresh_from_db()


def progress(targets: list[BulkScheduleTarget]) -> dict:
    done = sum(1 for target in targets if target.status != TargetStatus.PENDING)
    return {
        "done_count": done,
        "total_count": len(targets),
        "applied_count": sum(1 for target in targets if target.status == TargetStatus.APPLIED),
        "failed_count": sum(1 for target in targets if target.status == TargetStatus.FAILED),
    }
