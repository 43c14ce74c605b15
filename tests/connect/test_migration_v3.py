"""Moving a v2 installation to Smartcar API v3 on the simulator, end to end: dry run, capture of user ids, the
check that every vehicle answers on v3, the switch, and nothing lost — vehicles, history, commands, subscriptions."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from connect import subscriptions, transports
from connect.models import ApiSwitch, SmartcarAccount
from tests.vehicles.conftest import connect_simulated
from vehicles.models import Command, CommandStatus, EndpointState, StatusHistory, VehicleStatus


def migrate(*args) -> str:
    out = io.StringIO()
    call_command("smartcar_migrate_v3", *args, stdout=out)
    return out.getvalue()


def sync_all() -> None:
    call_command("sync", "--all", stdout=io.StringIO())


@pytest.fixture
def v2_installation(fleet, owner, transactional_db, settings):
    """A fleet on API v2.0: two vehicles synced (history), one subscribed to the webhook, one command in the log."""
    from simulator.platform import ensure_default_application

    settings.SMARTCAR_WEBHOOK_CALLBACK_URL = f"/webhooks/{settings.SMARTCAR_WEBHOOK_ID}/"
    ensure_default_application()
    connected = connect_simulated(fleet, makes=["TESLA", "FORD"])
    sync_all()
    assert subscriptions.vehicle_webhooks_subscribe(vehicle=connected.vehicles[0]).errors == []
    Command.objects.create(vehicle=connected.vehicles[1], user=owner, user_email=owner.email, kind="lock",
                           status=CommandStatus.DONE)  # fmt: skip
    return connected


def test_a_dry_run_reports_and_changes_nothing(v2_installation):
    history = StatusHistory.objects.count()
    output = migrate("--dry-run")
    assert "Dry run: every vehicle answers on API v3; 2 vehicle(s) would move." in output
    assert not ApiSwitch.objects.exists()
    assert transports.current().version == "2.0"
    assert StatusHistory.objects.count() == history


def test_the_migration_switches_and_keeps_vehicles_history_commands_and_subscriptions(v2_installation):
    from simulator.models import Subscription

    history = set(StatusHistory.objects.values_list("pk", flat=True))
    output = migrate()
    assert "Switched to Smartcar API v3: 2 vehicle(s) moved, 1 webhook subscription(s) made again" in output
    assert ApiSwitch.objects.get().version == "3"
    assert transports.current().version == "3"
    assert history <= set(StatusHistory.objects.values_list("pk", flat=True))
    assert Command.objects.filter(kind="lock", status=CommandStatus.DONE).exists()
    assert Subscription.objects.filter(vehicle__vehicle_id=v2_installation.vehicles[0].smartcar_id).exists()
    # The next round reads the vehicles through API v3 and goes on writing their status and history.
    EndpointState.objects.update(next_sync_at=None)
    sync_all()
    assert EndpointState.objects.filter(path="/signals", last_success_at__isnull=False).count() == 2
    assert all(s.sync_state == "ok" for s in VehicleStatus.objects.all())
    assert "already uses Smartcar API v3" in migrate()


def test_a_vehicle_that_does_not_answer_on_v3_stops_the_switch(v2_installation):
    from simulator.models import Connection

    Connection.objects.filter(vehicle__vehicle_id=v2_installation.vehicles[1].smartcar_id).delete()
    with pytest.raises(CommandError):
        migrate()
    assert not ApiSwitch.objects.exists()
    assert transports.current().version == "2.0"


def test_a_missing_user_id_is_backfilled_from_v3_connections(v2_installation):
    account = v2_installation.account
    real = account.smartcar_user_id
    SmartcarAccount.objects.filter(pk=account.pk).update(smartcar_user_id="lost-in-an-old-release")
    output = migrate()
    assert f"Account {account.pk}: its Smartcar user id is taken from API v3's connections." in output
    account.refresh_from_db()
    assert account.smartcar_user_id == real


def test_the_admin_actions_check_then_move_the_installation(v2_installation, admin_client):
    url = reverse("admin:connect_smartcaraccount_changelist")
    selected = [str(v2_installation.account.pk)]
    checked = admin_client.post(url, {"action": "api_v3_check", "_selected_action": selected}, follow=True)
    assert "2 vehicle(s) would move" in checked.content.decode()
    assert not ApiSwitch.objects.exists()
    moved = admin_client.post(url, {"action": "api_v3_migrate", "_selected_action": selected}, follow=True)
    assert "Switched to Smartcar API v3" in moved.content.decode()
    assert ApiSwitch.objects.get().switched_by == "admin@example.com"
