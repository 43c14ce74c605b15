"""Charging pages: a vehicle's charging settings and history, the fleet's charging page, bulk schedule apply.

Thin views: the tenant check (fleet_view), a form, a call into charging.services/history/bulk, a template or one of
its partials (htmx swaps the partial in place; every form also works as a plain POST).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from charging import bulk, capabilities, forms, history, schedules, services
from charging.models import BulkScheduleRun, ChargingLocationLabel, ChargingSession
from fleet.outbox import enqueue
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from vehicles.models import Vehicle, VehicleStatus

VEHICLE_TEMPLATE = "charging/vehicle.html"

READ_FAILURES = services.EXPECTED_FAILURES
problem_from = services.problem_from


def _vehicle(request: FleetRequest, vehicle_id: int) -> Vehicle:
    return get_fleet_object_or_404(request, Vehicle.objects.select_related("account", "fleet"), pk=vehicle_id)


def _render(request, partial: str, context: dict, *, status: int = 200):
    """The whole page, or only the named partial when htmx asks."""
    template = f"{VEHICLE_TEMPLATE}#{partial}" if request.htmx else VEHICLE_TEMPLATE
    return render(request, template, context, status=status)


def _current_limit(status) -> int:
    return round(status.charge_limit_percent) if status and status.charge_limit_percent else 80


def _base_context(request: FleetRequest, vehicle: Vehicle) -> dict:
    status = VehicleStatus.objects.filter(vehicle=vehicle).first()
    return {
        "vehicle": vehicle,
        "status": status,
        "features": capabilities.available(vehicle),
        "schedule_feature": capabilities.schedule_feature(vehicle),
        "is_ford": vehicle.make.upper() in capabilities.FORD_MAKES,
        "is_gm": vehicle.make.upper() in forms.GM_MAKES,
        "is_nissan": vehicle.make.upper() == "NISSAN",
        "can_write": request.membership.can_write,
        "fuel_only": bool(status and status.runs_on_fuel_only),
        "nothing_to_charge": capabilities.NOTHING_TO_CHARGE,
        "control_unavailable": capabilities.missing_reason(vehicle, "charge_control"),
        "limit_form": forms.ChargeLimitForm(
            initial={
                "limit_percent": round(status.charge_limit_percent) if status and status.charge_limit_percent else 80
            }
        ),
        "amperage_form": forms.AmperageForm(),
        "commands": services.charging_commands(vehicle=vehicle),
        "zone": request.fleet.zone,
    }


@fleet_view
@require_GET
def vehicle_charging(request: FleetRequest, vehicle_id: int):
    """A vehicle's charging page: control, its make's schedule (read from the vehicle now) and its history."""
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    feature = context["schedule_feature"]
    if feature and context["features"].get(feature):
        context.update(_schedule_context(request, vehicle, feature, location_key=request.GET.get("location")))
    elif feature:
        context["schedule_unavailable"] = capabilities.missing_reason(vehicle, feature)
    sessions = ChargingSession.objects.filter(vehicle=vehicle).select_related(*history.SESSION_ROW)
    context["sessions"] = sessions.prefetch_related("observations")[:20]
    return render(request, VEHICLE_TEMPLATE, context)


def _schedule_context(request: FleetRequest, vehicle: Vehicle, feature: str, *, location_key: str | None) -> dict:
    """The schedule form of the vehicle's make, filled with what the vehicle holds right now."""
    try:
        if feature == "ford_schedule":
            read = services.ford_schedule_read(vehicle=vehicle)
            location = read.location(location_key or "") or (read.locations[0] if read.locations else None)
            context = {"ford_locations": _labelled(request, read.locations), "ford_location": location}
            if location:
                form, weekday, weekend = forms.ford_forms(
                    location=location,
                    locations=read.locations,
                    extra={"read_fingerprint": services.ford_fingerprint(location)},
                )
                context.update(ford_form=form, weekday_formset=weekday, weekend_formset=weekend)
            return context
        if feature == "nissan_schedule":
            utc_windows = services.nissan_schedule_read(vehicle=vehicle)
            offset = services.fleet_offset_minutes(request.fleet)
            local = [schedules.nissan_utc_to_local(window, offset) for window in utc_windows]
            form, formset = forms.nissan_forms(
                local_windows=local, extra={"read_fingerprint": services.nissan_fingerprint(utc_windows)}
            )
            return {"nissan_form": form, "nissan_formset": formset, "nissan_utc": utc_windows}
        schedule = services.tesla_schedule_read(vehicle=vehicle)
        initial = {**forms.tesla_initial(schedule), "read_fingerprint": services.tesla_fingerprint(schedule)}
        return {"tesla_form": forms.TeslaScheduleForm(initial=initial), "tesla_schedule": schedule}
    except READ_FAILURES as exc:
        return {"schedule_problem": problem_from(exc)}


def _labelled(request: FleetRequest, locations):
    labels = {
        (label.latitude, label.longitude): label.label
        for label in ChargingLocationLabel.objects.filter(fleet=request.fleet)
    }
    return [(location, labels.get((location.latitude, location.longitude), "")) for location in locations]


# --- Schedule saves ------------------------------------------------------------------------------------------------


def _submit(context: dict, key: str, problem_key: str, submit=services.charging_change_submit, **change) -> None:
    """Hands the change to the audited machinery; a refusal (make, permission, connection) is shown instead."""
    try:
        command = submit(**change)
        command.refresh_from_db()  # a worker may have finished it already (eager tasks, a fast vehicle)
        context[key] = command
    except READ_FAILURES as exc:
        context[problem_key] = problem_from(exc)
        return
    if command.observed_at:  # read back already: the panels show what the vehicle holds now
        context["status"] = VehicleStatus.objects.filter(vehicle=command.vehicle_id).first()
        for panel in services.schedule_panels(vehicle=change["vehicle"]):
            context.update(panel.context)


def _changed_since_opened(guard: forms.ChangeGuardMixin, current_fingerprint: str) -> bool:
    opened = guard.cleaned_data.get("read_fingerprint") or ""
    return opened != current_fingerprint and not guard.cleaned_data.get("overwrite")


@fleet_view(write=True)
@require_POST
def ford_schedule_save(request: FleetRequest, vehicle_id: int):
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    try:
        read = services.ford_schedule_read(vehicle=vehicle)
    except READ_FAILURES as exc:
        context["schedule_problem"] = problem_from(exc)
        return _render(request, "schedule", context)
    form, weekday, weekend = forms.ford_forms(data=request.POST, location=None, locations=read.locations)
    context.update(
        ford_locations=_labelled(request, read.locations),
        ford_form=form,
        weekday_formset=weekday,
        weekend_formset=weekend,
        ford_location=read.location(request.POST.get("location", "")),
    )
    for prefix in ("weekday", "weekend"):
        if f"add_{prefix}" in request.POST:
            return _render(request, "schedule", _ford_row_added(context, prefix, locations=read.locations))
    valid = all(
        [form.is_valid(), weekday.is_valid(), weekend.is_valid()]
    )  # a list, not a generator: every part validated, errors shown
    if not valid:
        return _render(request, "schedule", context, status=422)
    current = form.cleaned_data["location"]
    if _changed_since_opened(form, services.ford_fingerprint(current)):
        context["changed_on_vehicle"] = services.change_summary("ford_schedule", current.as_dict())
        return _render(request, "schedule", _guard_reopened(context, form, services.ford_fingerprint(current)))
    wanted = forms.ford_location_from_forms(form, weekday, weekend)
    _submit(
        context,
        "submitted",
        "schedule_problem",
        vehicle=vehicle,
        user=request.user,
        kind="ford_schedule",
        params={"latitude": wanted.latitude, "longitude": wanted.longitude, "body": wanted.to_wire()},
        old_value=current.as_dict(),
    )
    _submitted_schedule(context, form, services.ford_fingerprint(wanted))
    return _render(request, "schedule", context)


def _ford_row_added(context: dict, prefix: str, *, locations) -> dict:
    """The Ford forms as entered, unvalidated, with a new window in ``prefix``'s list that overlaps none of it."""
    context["ford_form"] = forms.FordLocationForm(initial=forms.as_entered(context["ford_form"]), locations=locations)
    for name in ("weekday", "weekend"):
        formset = context[f"{name}_formset"]
        grown = forms.hour_formset_with_free_row(formset) if name == prefix else None
        if name == prefix and grown is None:
            context["no_free_hour"] = prefix
        context[f"{name}_formset"] = grown or forms.formset_as_entered(formset)
    return context


def _guard_reopened(context: dict, form, fingerprint: str) -> dict:
    """The manager's entries stay; the form now carries the fresh fingerprint and asks to confirm the overwrite."""
    _guard_reset(form, fingerprint, overwrite=True)
    return context


def _guard_reset(form, fingerprint: str, *, overwrite: bool = False) -> None:
    form.data = form.data.copy()
    form.data["read_fingerprint"] = fingerprint
    form.data["overwrite"] = "on" if overwrite else ""


def _submitted_schedule(context: dict, form, wanted_fingerprint: str) -> None:
    """After a submission the form stands for what was sent, so saving it again does not warn about our own change."""
    if "submitted" in context:
        _guard_reset(form, wanted_fingerprint)


@fleet_view(write=True)
@require_POST
def nissan_schedule_save(request: FleetRequest, vehicle_id: int):
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    form, formset = forms.nissan_forms(data=request.POST)
    context.update(nissan_form=form, nissan_formset=formset)
    if "add_nissan" in request.POST:
        context["nissan_form"] = forms.NissanScheduleForm(initial=forms.as_entered(form))
        context["nissan_formset"] = forms.formset_as_entered(formset, new_row=forms.NEW_NISSAN_ROW)
        return _render(request, "schedule", context)
    valid = all([form.is_valid(), formset.is_valid()])  # a list, not a generator: every part validated, errors shown
    if not valid:
        return _render(request, "schedule", context, status=422)
    try:
        current = services.nissan_schedule_read(vehicle=vehicle)
    except READ_FAILURES as exc:
        context["schedule_problem"] = problem_from(exc)
        return _render(request, "schedule", context)
    context["nissan_utc"] = current
    fingerprint = services.nissan_fingerprint(current)
    if _changed_since_opened(form, fingerprint):
        offset = services.fleet_offset_minutes(request.fleet)
        local = [schedules.nissan_utc_to_local(window, offset).label for window in current]
        context["changed_on_vehicle"] = "; ".join(local) or "no schedules"
        return _render(request, "schedule", _guard_reopened(context, form, fingerprint))
    offset = services.fleet_offset_minutes(request.fleet)
    utc = [schedules.nissan_local_to_utc(window, offset) for window in formset.windows()]
    _submit(
        context,
        "submitted",
        "schedule_problem",
        vehicle=vehicle,
        user=request.user,
        kind="nissan_schedule",
        params=schedules.nissan_wire(utc),
        old_value=schedules.nissan_wire(current),
    )
    _submitted_schedule(context, form, services.nissan_fingerprint(utc))
    return _render(request, "schedule", context)


@fleet_view(write=True)
@require_POST
def tesla_schedule_save(request: FleetRequest, vehicle_id: int):
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    form = forms.TeslaScheduleForm(request.POST)
    context["tesla_form"] = form
    if not form.is_valid():
        return _render(request, "schedule", context, status=422)
    try:
        current = services.tesla_schedule_read(vehicle=vehicle)
    except READ_FAILURES as exc:
        context["schedule_problem"] = problem_from(exc)
        return _render(request, "schedule", context)
    context["tesla_schedule"] = current
    fingerprint = services.tesla_fingerprint(current)
    if _changed_since_opened(form, fingerprint):
        context["changed_on_vehicle"] = services.change_summary("tesla_schedule", current.as_dict())
        return _render(request, "schedule", _guard_reopened(context, form, fingerprint))
    requests = schedules.tesla_requests(current, form.wanted())
    if not requests:
        context["unchanged"] = True
        return _render(request, "schedule", context)
    _submit(
        context,
        "submitted",
        "schedule_problem",
        vehicle=vehicle,
        user=request.user,
        kind="tesla_schedule",
        params={"requests": requests, "wanted": form.wanted().as_dict()},
        old_value=current.as_dict(),
    )
    _submitted_schedule(context, form, services.tesla_fingerprint(form.wanted()))
    return _render(request, "schedule", context)


# --- Charge limit, start/stop, amperage ------------------------------------------------------------------------------


@fleet_view(write=True)
@require_POST
def charge_limit_save(request: FleetRequest, vehicle_id: int):
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    form = forms.ChargeLimitForm(request.POST)
    context["limit_form"] = form
    if not form.is_valid():
        return _render(request, "control", context, status=422)
    _submit(
        context,
        "control_submitted",
        "control_problem",
        submit=services.charging_command_submit,
        vehicle=vehicle,
        user=request.user,
        kind="charge_limit",
        params={"limit_percent": form.cleaned_data["limit_percent"]},
    )
    return _render(request, "control", context)


@fleet_view(write=True)
@require_POST
def charge_control(request: FleetRequest, vehicle_id: int):
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    status = context["status"]
    form = forms.ChargeControlForm(
        request.POST, vehicle=vehicle, battery_percent=status.battery_percent if status else None
    )
    if not form.is_valid():
        context["control_errors"] = form.errors.get("action", [])
        return _render(request, "control", context, status=422)
    _submit(
        context,
        "control_submitted",
        "control_problem",
        submit=services.charging_command_submit,
        vehicle=vehicle,
        user=request.user,
        kind="charge_start" if form.cleaned_data["action"] == "START" else "charge_stop",
        params={},
    )
    return _render(request, "control", context)


@fleet_view(write=True)
@require_POST
def amperage_save(request: FleetRequest, vehicle_id: int):
    vehicle = _vehicle(request, vehicle_id)
    context = _base_context(request, vehicle)
    form = forms.AmperageForm(request.POST)
    context["amperage_form"] = form
    if not form.is_valid():
        return _render(request, "control", context, status=422)
    _submit(
        context,
        "control_submitted",
        "control_problem",
        submit=services.charging_command_submit,
        vehicle=vehicle,
        user=request.user,
        kind="charge_amperage",
        params=form.to_wire(),
    )
    return _render(request, "control", context)


@fleet_view
@require_GET
def change_status(request: FleetRequest, vehicle_id: int, command_id: int):
    """The state of one submitted change, polled by htmx until nothing more will happen (then polling stops and the
    panels the change concerns are swapped in as the vehicle now shows them)."""
    vehicle = _vehicle(request, vehicle_id)
    submitted = services.charging_command(vehicle=vehicle, command_id=command_id)
    if submitted is None:
        raise Http404("No such change")
    context = {"vehicle": vehicle, "submitted": submitted}
    if not (request.htmx and services.command_is_final(submitted)):
        return render(request, "charging/_change_status.html", context)
    html = render_to_string("charging/_change_status.html", context, request=request)
    if submitted.observed_at:
        html += "".join(_refreshed_panels(request, vehicle))
    return HttpResponseStopPolling(html)


def _refreshed_panels(request: FleetRequest, vehicle: Vehicle):
    """The page's panels that show what a change concerns, as now stored (a change reads its result back)."""
    status = VehicleStatus.objects.filter(vehicle=vehicle).first()
    yield render_to_string(f"{VEHICLE_TEMPLATE}#charge_status", {"status": status, "oob": True}, request=request)
    for panel in services.schedule_panels(vehicle=vehicle):
        yield render_to_string(panel.template, {**panel.context, "vehicle": vehicle, "oob": True}, request=request)


@fleet_view(write=True)
@require_POST
def location_label(request: FleetRequest, vehicle_id: int):
    """Names a charging location of the vehicle for the whole fleet (e.g. "Depot")."""
    vehicle = _vehicle(request, vehicle_id)
    try:
        read = services.ford_schedule_read(vehicle=vehicle)
    except READ_FAILURES:
        return redirect(reverse("charging_vehicle", args=[request.fleet.slug, vehicle.pk]))
    location = read.location(request.POST.get("location", ""))
    label = request.POST.get("label", "").strip()[:60]
    if location is not None:
        if label:
            ChargingLocationLabel.objects.update_or_create(
                fleet=request.fleet, latitude=location.latitude, longitude=location.longitude, defaults={"label": label}
            )
        else:
            ChargingLocationLabel.objects.filter(
                fleet=request.fleet, latitude=location.latitude, longitude=location.longitude
            ).delete()
    url = reverse("charging_vehicle", args=[request.fleet.slug, vehicle.pk])
    return redirect(f"{url}?location={location.key}" if location else url)


# --- Records -------------------------------------------------------------------------------------------------------


@fleet_view
@require_GET
def vehicle_records(request: FleetRequest, vehicle_id: int):
    """Charge records (BMW/MINI) or billing records (Tesla) for a date range, fetched now, one page at a time."""
    vehicle = _vehicle(request, vehicle_id)
    form = forms.DateRangeForm(request.GET or None)
    context = {"vehicle": vehicle, "range_form": form, "zone": request.fleet.zone}
    if request.GET and form.is_valid():
        data = form.cleaned_data
        try:
            if vehicle.make.upper() == "TESLA":
                page = history.billing_records_import(
                    vehicle=vehicle, start_date=data["start_date"], end_date=data["end_date"], page=data["page"] or 1
                )
                context.update(records=page.sessions, page=page.page, has_more=page.has_more)
                if page.has_more:
                    query = request.GET.copy()
                    query["page"] = page.page + 1
                    context["next_query"] = query.urlencode()
            else:
                context["records"] = history.charge_records_import(
                    vehicle=vehicle, start_date=data["start_date"], end_date=data["end_date"]
                )
        except READ_FAILURES as exc:
            context["records_problem"] = problem_from(exc)
    template = "charging/records.html#records" if request.htmx else "charging/records.html"
    return render(request, template, context)


# --- Fleet charging page -------------------------------------------------------------------------------------------


def _fleet_range(request: FleetRequest, form: forms.DateRangeForm) -> tuple[datetime, datetime]:
    zone = request.fleet.zone
    today = timezone.now().astimezone(zone).date()
    start_day = today - timedelta(days=27)
    end_day = today
    if form.is_valid():
        start_day = form.cleaned_data["start_date"] or start_day
        end_day = form.cleaned_data["end_date"] or end_day
    start = datetime.combine(start_day, time.min, tzinfo=zone)
    end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


@fleet_view
@require_GET
def fleet_charging(request: FleetRequest):
    form = forms.DateRangeForm(request.GET or None)
    start, end = _fleet_range(request, form)
    sessions = history.fleet_sessions(fleet=request.fleet, start=start, end=end)
    weeks = history.totals_per_week(sessions, request.fleet.zone)
    context = {
        "range_form": form,
        "start": start,
        "end": end - timedelta(days=1),
        "per_vehicle": history.totals_per_vehicle(sessions),
        "per_week": weeks,
        "charts": history.week_chart(weeks, request.fleet.zone),
        "sessions": sessions[:100],
        "session_count": sessions.count(),
        "export_query": request.GET.urlencode(),
        "runs": BulkScheduleRun.objects.filter(fleet=request.fleet)[:5],
    }
    return render(request, "charging/fleet.html", context)


@fleet_view
@require_GET
def fleet_charging_csv(request: FleetRequest):
    form = forms.DateRangeForm(request.GET or None)
    start, end = _fleet_range(request, form)
    sessions = history.fleet_sessions(fleet=request.fleet, start=start, end=end).order_by("started_at")
    response = HttpResponse(history.sessions_csv(sessions, request.fleet.zone), content_type="text/csv")
    name = f"charging-{request.fleet.slug}-{start:%Y%m%d}-{end - timedelta(days=1):%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@fleet_view(write=True)
@require_POST
def fleet_sessions_derive(request: FleetRequest):
    """Settles the sessions of every vehicle of the fleet from its whole history, in a worker."""
    from charging.tasks import fleet_sessions_derive as derive

    fleet_id = request.fleet.pk
    enqueue(derive, fleet_id, True)  # the whole history
    messages.info(request, "Charging sessions are being updated from the synced readings; reload in a moment.")
    return redirect("charging_fleet", request.fleet.slug)


# --- Bulk apply ----------------------------------------------------------------------------------------------------


@fleet_view(write=True)
def bulk_new(request: FleetRequest):
    """Choose a make, the vehicles and the schedule; preview; confirm to start the run."""
    make = (request.POST.get("make") or request.GET.get("make") or "").upper()
    form = bulk.bulk_form(request.fleet, make, request.POST if request.method == "POST" else None)
    context = {"form": form, "make": make, "makes": bulk.BULK_MAKES}
    if form is not None and form.nissan is not None and "add_nissan" in request.POST:
        context["form"] = bulk.bulk_form_row_added(form)
        return render(request, "charging/bulk_new.html", context)
    if request.method == "POST" and form is not None and form.is_valid():
        preview = bulk.bulk_preview(fleet=request.fleet, form=form)
        if "confirm" in request.POST:
            run = bulk.bulk_run_start(fleet=request.fleet, user=request.user, preview=preview)
            return redirect("charging_bulk_run", request.fleet.slug, run.pk)
        context["preview"] = preview
    return render(request, "charging/bulk_new.html", context)


@fleet_view
@require_GET
def bulk_run(request: FleetRequest, run_id: int):
    run = get_fleet_object_or_404(request, BulkScheduleRun.objects.all(), pk=run_id)
    targets = list(run.targets.select_related("vehicle"))
    context = {"run": run, "targets": targets, **bulk.progress(targets)}
    if request.htmx:
        progress = "charging/bulk_run.html#progress"
        if run.status == "done":
            return HttpResponseStopPolling(render_to_string(progress, context, request=request))
        return render(request, progress, context)
    return render(request, "charging/bulk_run.html", context)
