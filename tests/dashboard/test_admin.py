from django.urls import reverse

from fleet.models import User
from tests.dashboard.factories import make_account, make_vehicles
from vehicles.models import Command


def test_the_command_audit_log_is_in_admin_and_read_only(client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    command = Command.objects.create(vehicle=vehicle, user_email="m@example.com", kind="lock", new_value="locked")
    client.force_login(User.objects.create_superuser(email="admin@example.com", password="x"))
    listing = client.get(reverse("admin:vehicles_command_changelist")).content.decode()
    assert "m@example.com" in listing and "lock" in listing
    detail = client.get(reverse("admin:vehicles_command_change", args=[command.pk])).content.decode()
    assert 'name="new_value"' not in detail  # shown, not editable
    assert client.get(reverse("admin:vehicles_command_add")).status_code == 403
