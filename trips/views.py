"""Drivers, places and trips pages. Thin views: the tenant check (fleet_view), a form, a service, a template.

Forms are read in the fleet's time zone; a refused form comes back with its errors and status 422, nothing saved.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from trips import drivers, fleetmap, forms, hours, logbook, places, statements, tariffs
from trips.models import Assignment, Driver, OffHoursDeparture, Place, Statement, Tariff, TariffKind, Trip
from vehicles.models import Vehicle


def _driver(request: FleetRequest, driver_id: int) -> Driver:
    return get_fleet_object_or_404(request, Driver.objects.select_related("home", "user"), pk=driver_id)


# --- Drivers ---------------------------------------------------------------------------------------------------------


def _drivers_page(request: FleetRequest, form: forms.DriverForm, status: int = 200):
    now = timezone.now()
    current = {
        a.driver_id: a
        for a in Assignment.objects.filter(driver__fleet=request.fleet, starts_at__lte=now)
        .exclude(ends_at__lte=now)
        .select_related("vehicle")
    }
    rows = [(driver, current.get(driver.pk)) for driver in request.fleet.drivers.select_related("user", "home")]
    return render(request, "trips/drivers.html", {"rows": rows, "form": form}, status=status)


@require_GET
@fleet_view
def driver_list(request: FleetRequest):
    return _drivers_page(request, forms.DriverForm(fleet=request.fleet))


@require_POST
@fleet_view(write=True)
def driver_create(request: FleetRequest):
    form = forms.DriverForm(request.POST, fleet=request.fleet)
    if not form.is_valid():
        return _drivers_page(request, form, status=422)
    driver = form.save()
    messages.success(request, f"{driver.name} added. Give them a vehicle below.")
    return redirect("trips_driver", request.fleet.slug, driver.pk)


def _driver_page(request: FleetRequest, driver: Driver, *, assign=None, home=None, status: int = 200):
    with timezone.override(request.fleet.zone):
        context = {
            "driver": driver,
            "assignments": driver.assignments.select_related("vehicle"),
            "assign_form": assign
            or forms.AssignmentForm(fleet=request.fleet, initial={"starts_at": timezone.localtime()}),
            "home_form": home or forms.DriverHomeForm(fleet=request.fleet, initial={"home": driver.home_id}),
        }
        return render(request, "trips/driver.html", context, status=status)


@require_GET
@fleet_view
def driver_detail(request: FleetRequest, driver_id: int):
    return _driver_page(request, _driver(request, driver_id))


@require_POST
@fleet_view(write=True)
def driver_assign(request: FleetRequest, driver_id: int):
    driver = _driver(request, driver_id)
    with timezone.override(request.fleet.zone):
        form = forms.AssignmentForm(request.POST, fleet=request.fleet)
        valid = form.is_valid()
    if valid:
        try:
            drivers.assignment_create(driver=driver, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"{form.cleaned_data['vehicle'].display_name} assigned to {driver.name}.")
            return redirect("trips_driver", request.fleet.slug, driver.pk)
    return _driver_page(request, driver, assign=form, status=422)


@require_POST
@fleet_view(write=True)
def assignment_end(request: FleetRequest, assignment_id: int):
    assignment = _assignment(request, assignment_id)
    try:
        drivers.assignment_end(assignment=assignment)
    except ValidationError:
        messages.error(request, "This assignment has not started yet; it cannot end before its start.")
    else:
        messages.success(request, f"{assignment.driver.name} no longer has {assignment.vehicle.display_name}.")
    return redirect("trips_driver", request.fleet.slug, assignment.driver_id)


def _assignment(request: FleetRequest, assignment_id: int) -> Assignment:
    rows = Assignment.objects.select_related("driver", "vehicle").filter(driver__fleet=request.fleet)
    return get_object_or_404(rows, pk=assignment_id)


@require_POST
@fleet_view(write=True)
def driver_home(request: FleetRequest, driver_id: int):
    driver = _driver(request, driver_id)
    form = forms.DriverHomeForm(request.POST, fleet=request.fleet)
    if not form.is_valid():
        return _driver_page(request, driver, home=form, status=422)
    driver.home = form.cleaned_data["home"]
    driver.save(update_fields=["home"])
    messages.success(request, "Home saved.")
    return redirect("trips_driver", request.fleet.slug, driver.pk)


# --- Places ----------------------------------------------------------------------------------------------------------


def _places_page(request: FleetRequest, form: forms.PlaceForm, status: int = 200):
    context = {
        "places": [(place, hours.hours_line(place)) for place in request.fleet.places.all()],
        "form": form,
        "suggestions": places.ford_place_suggestions(request.fleet),
    }
    return render(request, "trips/places.html", context, status=status)


@require_GET
@fleet_view
def place_list(request: FleetRequest):
    initial = {key: request.GET[key] for key in ("latitude", "longitude", "name") if key in request.GET}
    return _places_page(request, forms.PlaceForm(fleet=request.fleet, initial=initial))


@require_POST
@fleet_view(write=True)
def place_create(request: FleetRequest):
    form = forms.PlaceForm(request.POST, fleet=request.fleet)
    if not form.is_valid():
        return _places_page(request, form, status=422)
    place = form.save()
    messages.success(request, f"{place.name} saved.")
    return redirect("trips_places", request.fleet.slug)


@require_POST
@fleet_view(write=True)
def place_delete(request: FleetRequest, place_id: int):
    place = get_fleet_object_or_404(request, Place.objects, pk=place_id)
    place.delete()
    messages.success(request, f"{place.name} removed; trips that started or ended there keep their positions.")
    return redirect("trips_places", request.fleet.slug)


def vehicle_for(request: FleetRequest, vehicle_id: int) -> Vehicle:
    return get_fleet_object_or_404(request, Vehicle.objects, pk=vehicle_id)


# --- Trips and the logbook -------------------------------------------------------------------------------------------


def _logbook(request: FleetRequest, trips, *, subject: str, subject_kind: str, csv_name: str, back: str):
    zone = request.fleet.zone
    month = logbook.Month.parse(request.GET.get("month"), timezone.localdate(timezone=zone))
    rows = list(logbook.month_trips(trips, month, zone))
    if request.GET.get("format") == "csv":
        response = HttpResponse(logbook.logbook_csv(rows, zone), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="logbook-{csv_name}-{month}.csv"'
        return response
    context = {
        "trips": rows,
        "month": month,
        "totals": logbook.totals(rows),
        "subject": subject,
        "subject_kind": subject_kind,
        "back": back,
        "note": logbook.RESOLUTION_NOTE,
        "printable": request.GET.get("print") == "1",
        "can_tag_all": request.membership.can_write,
    }
    return render(request, "trips/logbook.html", context)


@require_GET
@fleet_view
def vehicle_trips(request: FleetRequest, vehicle_id: int):
    vehicle = vehicle_for(request, vehicle_id)
    return _logbook(
        request,
        Trip.objects.filter(vehicle=vehicle),
        subject=vehicle.display_name,
        subject_kind="vehicle",
        csv_name=f"vehicle-{vehicle.pk}",
        back=reverse("vehicle_detail", args=[request.fleet.slug, vehicle.pk]),
    )


@require_GET
@fleet_view
def driver_trips(request: FleetRequest, driver_id: int):
    driver = _driver(request, driver_id)
    return _logbook(
        request,
        Trip.objects.filter(driver=driver, vehicle__fleet=request.fleet),
        subject=driver.name,
        subject_kind="driver",
        csv_name=f"driver-{driver.pk}",
        back=reverse("trips_driver", args=[request.fleet.slug, driver.pk]),
    )


@require_POST
@fleet_view
def trip_purpose(request: FleetRequest, trip_id: int):
    """A manager, or the trip's driver when they are a member, tags it business or private."""
    trip = get_object_or_404(
        Trip.objects.select_related("driver", "vehicle", "start_place", "end_place"),
        pk=trip_id,
        vehicle__fleet=request.fleet,
    )
    is_driver = trip.driver is not None and trip.driver.user_id == request.user.pk
    if not (request.membership.can_write or is_driver):
        raise PermissionDenied("Only managers and the trip's driver can tag it.")
    form = forms.TripPurposeForm(request.POST, instance=trip)
    if form.is_valid():
        trip = form.save(commit=False)
        trip.tagged_by, trip.tagged_at = request.user, timezone.now()
        trip.save(update_fields=["purpose", "purpose_note", "tagged_by", "tagged_at"])
    status = 200 if form.is_valid() else 422
    if request.htmx:
        if status == 422:
            trip.refresh_from_db()
        context = {"trip": trip, "form": form, "can_tag_all": request.membership.can_write}
        return render(request, "trips/logbook.html#trip-purpose", context, status=status)
    if status == 422:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("trips_vehicle", args=[request.fleet.slug, trip.vehicle_id])
    return redirect(back)


# --- Tariffs ---------------------------------------------------------------------------------------------------------


def _tariffs_page(request: FleetRequest, form: forms.TariffForm, status: int = 200):
    rows = [
        (tariff, tariffs.bands_text(tariff.bands.all()) if tariff.kind == TariffKind.TIME_OF_USE else "")
        for tariff in Tariff.objects.filter(fleet=request.fleet).select_related("place").prefetch_related("bands")
    ]
    rows.sort(key=lambda row: (row[0].place is not None, row[0].place.name if row[0].place else ""))
    return render(request, "trips/tariffs.html", {"rows": rows, "form": form}, status=status)


@require_GET
@fleet_view
def tariff_list(request: FleetRequest):
    return _tariffs_page(request, forms.TariffForm(fleet=request.fleet))


@require_POST
@fleet_view(write=True)
def tariff_save(request: FleetRequest):
    form = forms.TariffForm(request.POST, fleet=request.fleet)
    if not form.is_valid():
        return _tariffs_page(request, form, status=422)
    data = form.cleaned_data
    tariff = tariffs.tariff_save(
        fleet=request.fleet,
        place=data["place"],
        currency=data["currency"],
        kind=data["kind"],
        price_per_kwh=data.get("price_per_kwh"),
        bands=data["parsed_bands"],
    )
    messages.success(request, f"Tariff saved: {tariff}. Charging costs are worked out again with it.")
    return redirect("trips_tariffs", request.fleet.slug)


# --- Reimbursement statements ----------------------------------------------------------------------------------------


@require_GET
@fleet_view
def driver_statement(request: FleetRequest, driver_id: int):
    """The month's statement: the issued copy when there is one, else the draft worked out from the data now."""
    driver = _driver(request, driver_id)
    zone = request.fleet.zone
    month = logbook.Month.parse(request.GET.get("month"), timezone.localdate(timezone=zone))
    draft = statements.statement_draft(driver=driver, month=month)
    issued = Statement.objects.filter(driver=driver, month=month.first).prefetch_related("lines").first()
    if request.GET.get("format") == "csv":
        response = HttpResponse(statements.statement_csv(issued or draft, zone), content_type="text/csv; charset=utf-8")
        name = f"statement-{driver.pk}-{month}{'' if issued else '-draft'}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    context = {
        "driver": driver,
        "month": month,
        "draft": draft,
        "issued": issued,
        "drift": statements.statement_drift(issued, draft) if issued else 0,
        "month_over": month.bounds(zone)[1] <= timezone.now(),
        "printable": request.GET.get("print") == "1",
        "issued_list": Statement.objects.filter(driver=driver).only("month", "amount", "currency")[:24],
    }
    return render(request, "trips/statement.html", context)


@require_POST
@fleet_view(write=True)
def driver_statement_issue(request: FleetRequest, driver_id: int):
    driver = _driver(request, driver_id)
    month = logbook.Month.parse(request.POST.get("month"), timezone.localdate(timezone=request.fleet.zone))
    try:
        statements.statement_issue(driver=driver, month=month, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Statement for {month.label} issued. It will not change any more.")
    return redirect(f"{reverse('trips_statement', args=[request.fleet.slug, driver.pk])}?month={month}")


# --- The fleet map ---------------------------------------------------------------------------------------------------


@require_GET
@fleet_view
@vary_on_headers("HX-Request")
def fleet_map(request: FleetRequest):
    """Every vehicle's last position; htmx refreshes the data part every minute and the script redraws."""
    data = fleetmap.fleet_map(fleet=request.fleet)
    context = {
        "map_json": data.json,
        "vehicle_count": data.vehicle_count,
        "place_count": data.place_count,
        "states": fleetmap.STATES,
        "map_tiles": {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION},
    }
    template = "trips/map.html#map-data" if request.htmx else "trips/map.html"
    return render(request, template, context)


def _place_page(request: FleetRequest, place: Place, form: forms.PlaceHoursForm | None = None, status: int = 200):
    trips = Trip.objects.filter(vehicle__fleet=request.fleet).select_related("vehicle", "driver")
    departures = list(trips.filter(start_place=place).order_by("-started_at")[:50])
    closed = set(OffHoursDeparture.objects.filter(trip__in=departures).values_list("trip_id", flat=True))
    context = {
        "place": place,
        "arrivals": trips.filter(end_place=place, ongoing=False).order_by("-ended_at")[:50],
        "departures": [(trip, trip.pk in closed) for trip in departures],
        "hours_line": hours.hours_line(place),
        "hours_form": form or forms.PlaceHoursForm(initial={"hours": hours.hours_text(place)}),
    }
    return render(request, "trips/place.html", context, status=status)


@require_GET
@fleet_view
def place_detail(request: FleetRequest, place_id: int):
    """Arrivals and departures at a place: the trips that ended or started inside its circle, newest first."""
    return _place_page(request, get_fleet_object_or_404(request, Place.objects, pk=place_id))


@require_POST
@fleet_view(write=True)
def place_hours(request: FleetRequest, place_id: int):
    place = get_fleet_object_or_404(request, Place.objects, pk=place_id)
    form = forms.PlaceHoursForm(request.POST)
    if not form.is_valid():
        return _place_page(request, place, form, status=422)
    hours.place_hours_set(place=place, opening_hours=form.cleaned_data["hours"])
    messages.success(request, f"Opening hours of {place.name} saved.")
    return redirect("trips_place", request.fleet.slug, place.pk)
