"""Keep it true: every page that the owner, a manager and a viewer reach from the navigation, and every vehicle page,
at 1280 and 390 px — no console error, failed file, server error, overflow or raw word, and every form's refusal
visible (tests/e2e/walker.py). All findings are reported at once."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.e2e.conftest import DESKTOP, PHONE, sign_in
from tests.e2e.walker import Walk, kind, refusable, walk

pytestmark = pytest.mark.e2e


def _maintenance(demo_fleet) -> set[str]:
    """A service added and changed, a work order opened and scheduled, by the manager on the pages: the service's
    page, the order's page (each with its changes) and the service program's page to walk."""
    from maintenance.models import ServiceTask, WorkOrder

    fleet, first, second = demo_fleet.fleet, demo_fleet.vehicles[0], demo_fleet.vehicles[1]
    manager = Client()
    manager.force_login(demo_fleet.manager)
    program = reverse("maintenance_program", args=[fleet.slug])
    manager.post(program, {"name": "Oil change", "every_km": "15000", "make": first.make})
    task = ServiceTask.objects.get(fleet=fleet)
    task_url = reverse("maintenance_program_task", args=[fleet.slug, task.pk])
    manager.post(task_url, {"name": task.name, "every_km": "20000", "make": first.make, "vehicles": [second.pk]})
    manager.post(reverse("maintenance_work_order_new", args=[fleet.slug]), {"vehicle": first.pk, "title": "Wipers"})
    order = WorkOrder.objects.get(fleet=fleet)
    manager.post(order.get_absolute_url(), {"title": order.title, "status": "scheduled", "assignee": "Glass & Co"})
    assert task.changes.count() == 2 and order.changes.count() == 2
    return {program, task_url, order.get_absolute_url()}


def test_every_page_for_every_member_at_both_widths(chromium, live_server, demo_fleet):
    start = [reverse("fleet_home", args=[demo_fleet.fleet.slug])]
    maintenance_pages = _maintenance(demo_fleet)
    findings, forms_sent = [], set()
    for role in ("owner", "manager", "viewer"):
        context = chromium.new_context(viewport=DESKTOP)
        context.set_default_timeout(15_000)
        page = context.new_page()
        sign_in(page, live_server, getattr(demo_fleet, role))
        walker = Walk(page=page, origin=live_server.url, role=role, width=DESKTOP["width"])
        walker.listen()
        opened = walk(walker, start)
        missing = {v.get_absolute_url() for v in demo_fleet.vehicles} - set(opened)
        assert not missing, f"{role}: vehicle pages not reached: {sorted(missing)}"
        assert maintenance_pages <= set(opened), f"{role}: not reached: {sorted(maintenance_pages - set(opened))}"

        # Each form once (whoever sees it first), with input it must refuse.
        for path, form in walker.forms_found:
            key = (kind(path), kind(form["action"]), tuple(f["name"] for f in form["fields"]))
            if refusable(form) and key not in forms_sent:
                forms_sent.add(key)
                walker.send_invalid(path, form)

        page.set_viewport_size(PHONE)
        walker.width, walker.forms_too = PHONE["width"], False
        for path in opened:
            walker.open(path)
        findings += walker.findings
        context.close()
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(map(str, findings))
