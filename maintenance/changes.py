"""The record of every change to a fleet's maintenance, and each change in a manager's words.

One mechanism for work orders, the service program with its hand assignments, and the due points that finished work
resets: ``values`` takes the fields of a row as they are stored, ``diff`` finds what an edit changed, ``record``
writes a ``Change`` (who, when, what), and ``words`` says it at display time in the fleet's units — "Anna changed the
interval from 10,000 km to 15,000 km". The automatic starting point of a service never counted before is bookkeeping,
not a change anyone made, and is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db.models import Model

from fleet import formatting
from fleet.models import Fleet
from maintenance.models import Change, ChangeAction, ServiceTask, WorkOrder, WorkOrderStatus
from vehicles.models import Vehicle, make_label


@dataclass(frozen=True)
class Field:
    words: str
    kind: str = "text"  # how its values are written: text, long, status, day, money, months, make, vehicles or a unit


FIELDS = {
    # A work order
    "title": Field("what needs doing"),
    "status": Field("the status", "status"),
    "assignee": Field("the assignee"),
    "due_on": Field("the due date", "day"),
    "notes": Field("the notes", "long"),
    "parts_cost": Field("the parts cost", "money"),
    "labour_cost": Field("the labour cost", "money"),
    "completed_on": Field("the completion date", "day"),
    "completion_odometer_km": Field("the odometer at completion", "distance"),
    # A service of the program
    "name": Field("the name"),
    "every_km": Field("the interval", "distance"),
    "every_months": Field("the interval", "months"),
    "oil_life_below_percent": Field("the oil life threshold", "percent"),
    "tire_pressure_below_kpa": Field("the tire pressure threshold", "pressure"),
    "make": Field("the make", "make"),
    "model": Field("the model"),
    "vehicles": Field("the vehicles chosen by hand", "vehicles"),
    # A service's due point on one vehicle
    "done_on": Field("the day it counts from", "day"),
    "done_km": Field("the odometer it counts from", "distance"),
}
TASK_FIELDS = (
    "name", "every_km", "every_months", "oil_life_below_percent", "tire_pressure_below_kpa", "make", "model",
)  # fmt: skip


# --- Writing --------------------------------------------------------------------------------------------------------


def stored(value):
    """A value as the record keeps it (JSON): dates as ISO days, amounts as text, vehicles as [id, name] pairs."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Vehicle):
        return [value.pk, value.display_name]
    if isinstance(value, list | tuple | set):
        # A list of vehicles (or of their stored pairs, kept as they are), in a fixed order.
        return sorted((v if isinstance(v, list) else stored(v) for v in value), key=str)
    return value


def values(row: Model, names) -> dict:
    """The named fields of a row; ``vehicles`` is a service's hand-assigned vehicles."""
    found = {}
    for name in names:
        value = getattr(row, name)
        found[name] = list(value.all()) if name == "vehicles" else value
    return found


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def diff(before: dict, after: dict) -> dict:
    """field: [before, after], as stored, for each field whose value differs."""
    changed = {}
    for name, new in after.items():
        old = before.get(name)
        if _empty(old) and _empty(new):
            continue
        if isinstance(new, list) or isinstance(old, list):
            old, new = stored(old or []), stored(new or [])
        if old != new:  # values of their own type: 40 and 40.00 are the same amount
            changed[name] = [stored(old), stored(new)]
    return changed


def record(
    *,
    fleet: Fleet,
    user,
    action: str = ChangeAction.CHANGED,
    fields: dict | None = None,
    subject: str = "",
    note: str = "",
    work_order: WorkOrder | None = None,
    service_task: ServiceTask | None = None,
    vehicle: Vehicle | None = None,
) -> Change:
    return Change.objects.create(
        fleet=fleet,
        user=user if getattr(user, "pk", None) else None,
        user_email=getattr(user, "email", "") or "",
        action=action,
        fields=fields or {},
        subject=subject[:200],
        note=note[:300],
        work_order=work_order,
        service_task=service_task,
        vehicle=vehicle,
    )


# --- Words ----------------------------------------------------------------------------------------------------------


def who(change: Change) -> str:
    """The member by name (their e-mail when they gave none), or Fleet for what the app did itself."""
    if change.user is not None:
        return change.user.get_short_name()
    return change.user_email or "Fleet"


def _number(value):
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def shown(kind: str, value, system: str) -> str:
    """One stored value in a manager's words. Lenient: an older record may hold the words it was written in."""
    if _empty(value):
        return formatting.UNKNOWN
    if kind == "status":
        return WorkOrderStatus(value).label if value in WorkOrderStatus.values else str(value)
    if kind == "day":
        try:
            return formatting.day(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if kind == "money":
        number = _number(value)
        return f"{number:,.2f}" if number is not None else str(value)
    if kind == "months":
        return f"{value} month{'' if value == 1 else 's'}"
    if kind == "make":
        return make_label(str(value))
    if kind in formatting.DECIMALS:
        return formatting.quantity(value, kind, system) if _number(value) is not None else str(value)
    return str(value)


def _names(pairs) -> list[str]:
    return [pair[1] if isinstance(pair, list) else str(pair) for pair in pairs]


def _vehicles_phrase(before: list, after: list) -> str:
    ids_before = {str(p[0]) if isinstance(p, list) else p for p in before}
    ids_after = {str(p[0]) if isinstance(p, list) else p for p in after}
    added = [p for p in after if (str(p[0]) if isinstance(p, list) else p) not in ids_before]
    removed = [p for p in before if (str(p[0]) if isinstance(p, list) else p) not in ids_after]
    parts = []
    if added:
        parts.append(f"assigned {_listed(_names(added))} by hand")
    if removed:
        parts.append(f"took {_listed(_names(removed))} off")
    return " and ".join(parts)


def phrase(name: str, before, after, system: str) -> str:
    """ "changed the interval from 10,000 km to 15,000 km", "set the due date to 5 Jan 2030", "cleared the assignee"."""
    field = FIELDS.get(name, Field(name.replace("_", " ")))
    if field.kind == "vehicles":
        return _vehicles_phrase(before or [], after or [])
    if field.kind == "long":
        return f"added {field.words}" if _empty(before) else f"cleared {field.words}" if _empty(after) else (
            f"changed {field.words}"
        )  # fmt: skip
    old, new = shown(field.kind, before, system), shown(field.kind, after, system)
    if _empty(before):
        return f"set {field.words} to {new}"
    if _empty(after):
        return f"cleared {field.words} (was {old})"
    return f"changed {field.words} from {old} to {new}"


def _setting(name: str, value, system: str) -> str:
    """ "the interval 10,000 km": a field as a new service has it."""
    field = FIELDS.get(name, Field(name.replace("_", " ")))
    if field.kind == "vehicles":
        return f"{field.words} {_listed(_names(value or []))}"
    return f"{field.words} {shown(field.kind, value, system)}"


def _listed(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1] if parts else ""


def _in_order(fields: dict) -> list[tuple[str, list]]:
    """The fields in the order of FIELDS (PostgreSQL's jsonb keeps keys in an order of its own)."""
    return sorted(fields.items(), key=lambda item: list(FIELDS).index(item[0]) if item[0] in FIELDS else len(FIELDS))


def words(change: Change, system: str) -> str:
    """The change as one sentence, starting with who made it."""
    person = who(change)
    fields = _in_order(change.fields)
    changed = _listed([phrase(name, pair[0], pair[1], system) for name, pair in fields])
    if change.action == ChangeAction.OPENED:
        return f"{person} opened the work order “{change.subject}”"
    if change.action == ChangeAction.REOPENED:
        return f"{person} reopened the work order" + (f": {change.note}" if change.note else "")
    if change.action == ChangeAction.ADDED:
        settings = _listed([_setting(name, pair[1], system) for name, pair in fields if name != "name"])
        return f"{person} added “{change.subject}” to the program" + (f": {settings}" if settings else "")
    if change.action == ChangeAction.REMOVED:
        return f"{person} removed “{change.subject}” from the program"
    if change.action == ChangeAction.RESET:
        return _reset_words(change, person, system)
    return f"{person} {changed}" if changed else f"{person} saved without a change"


def _reset_words(change: Change, person: str, system: str) -> str:
    done_on, done_km = (change.fields.get(name, [None, None])[1] for name in ("done_on", "done_km"))
    where = f" on {change.vehicle.display_name}" if change.vehicle else ""
    order = f"work order #{change.work_order_id}" if change.work_order_id else "the work"
    counted = f"from {shown('day', done_on, system)}" + (
        f" at {shown('distance', done_km, system)}" if not _empty(done_km) else ""
    )
    return f"{person} finished {order}{where}: “{change.subject}” is counted again {counted}"
