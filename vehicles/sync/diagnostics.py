"""Diagnostic trouble codes and system statuses of a group of vehicles, each table in a few statements."""

from collections import defaultdict
from datetime import datetime

from django.utils.dateparse import parse_datetime

from vehicles.models import DiagnosticTroubleCode, SystemStatus

# (vehicle id, the body of its answer)
Report = tuple[int, dict]


def dtcs_store(reports: list[Report], now: datetime) -> None:
    """/diagnostics/dtcs answers: a code is seen first and last, and cleared when it no longer appears."""
    # Reference: smartcar-api/get-dtcs.md
    reported = {vehicle_id: _codes(body) for vehicle_id, body in reports}
    if not reported:
        return
    cleared: list[int] = []
    seen: list[int] = []
    open_codes: dict[int, set[str]] = defaultdict(set)
    for dtc in DiagnosticTroubleCode.objects.filter(vehicle_id__in=list(reported), cleared_at__isnull=True):
        open_codes[dtc.vehicle_id].add(dtc.code)
        (seen if dtc.code in reported[dtc.vehicle_id] else cleared).append(dtc.pk)
    if cleared:
        DiagnosticTroubleCode.objects.filter(pk__in=cleared).update(cleared_at=now)
    if seen:
        DiagnosticTroubleCode.objects.filter(pk__in=seen).update(last_seen_at=now)
    new = [
        DiagnosticTroubleCode(vehicle_id=vehicle_id, code=code, reported_at=at, first_seen_at=now, last_seen_at=now)
        for vehicle_id, codes in reported.items()
        for code, at in codes.items()
        if code not in open_codes[vehicle_id]
    ]
    if new:
        DiagnosticTroubleCode.objects.bulk_create(new, ignore_conflicts=True)


def _codes(body: dict) -> dict[str, datetime | None]:
    codes: dict[str, datetime | None] = {}
    for item in body.get("activeCodes") or []:
        if isinstance(item, dict) and item.get("code"):
            try:
                at = parse_datetime(item["timestamp"]) if item.get("timestamp") else None
            except (TypeError, ValueError):
                at = None
            codes[str(item["code"])[:16]] = at
    return codes


def system_statuses_store(reports: list[Report], now: datetime) -> None:
    """/diagnostics/system_status answers: the latest status of each system, with when it last changed."""
    # Reference: smartcar-api/get-system-status.md
    ids = [vehicle_id for vehicle_id, _ in reports]
    current = {(s.vehicle_id, s.system_id): s for s in SystemStatus.objects.filter(vehicle_id__in=ids).order_by()}
    new, changed, seen = [], [], []
    for vehicle_id, body in reports:
        for item in body.get("systems") or []:
            if not isinstance(item, dict) or not item.get("systemId"):
                continue
            system_id = str(item["systemId"])[:60]
            status = str(item.get("status") or "")[:20]
            description = str(item.get("description") or "")[:300]
            row = current.get((vehicle_id, system_id))
            if row is None:
                new.append(
                    SystemStatus(
                        vehicle_id=vehicle_id,
                        system_id=system_id,
                        status=status,
                        description=description,
                        changed_at=now,
                        last_seen_at=now,
                    )
                )
            elif (row.status, row.description) != (status, description):
                row.status, row.description, row.changed_at, row.last_seen_at = status, description, now, now
                changed.append(row)
            else:
                seen.append(row.pk)
    if new:
        SystemStatus.objects.bulk_create(new, ignore_conflicts=True)
    if changed:
        SystemStatus.objects.bulk_update(changed, ["status", "description", "changed_at", "last_seen_at"])
    if seen:
        SystemStatus.objects.filter(pk__in=seen).update(last_seen_at=now)
