"""Sessions kept before charges were merged become observations, and the periodic settle merges them."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from charging import sessions
from charging.models import ChargingObservation, ChargingSession, EnergySource
from vehicles.models import Vehicle

BEFORE = [("charging", "0001_initial")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_a_charge_kept_twice_becomes_one_session(transactional_db, fleet):
    tesla = Vehicle.objects.create(fleet=fleet, smartcar_id="t", make="TESLA", model="Model 3")
    # Every app's latest state, not only charging's: migrating charging back unapplies the apps that depend on it
    # (trips' session costs), and the tests after this one need their tables.
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate(BEFORE).get_model("charging", "ChargingSession")
    started = datetime.now(UTC) - timedelta(hours=5)
    common = {"vehicle_id": tesla.pk, "started_at": started, "ended_at": started + timedelta(hours=1)}
    old.objects.create(source="sync", external_id=started.isoformat(), start_percent=40, end_percent=70, **common)
    old.objects.create(
        source="billing_record", external_id="R-9", energy_kwh=24.5, cost_energy="11.03", currency="EUR", **common
    )

    migrate(latest)

    assert not ChargingSession.objects.exists()
    assert ChargingObservation.objects.filter(vehicle=tesla, session=None).count() == 2
    record = ChargingObservation.objects.get(external_id="R-9")
    assert record.facts == {"energy_kwh": 24.5, "cost_energy": "11.03", "currency": "EUR"}

    sessions.vehicle_sessions_settle_recent(vehicle=tesla)  # the periodic settle

    (session,) = ChargingSession.objects.filter(vehicle=tesla)
    assert (session.energy_kwh, session.energy_source, str(session.cost_total)) == (24.5, EnergySource.RECORD, "11.03")
    assert session.seen_in == ["Tesla billing record", "Synced readings"]
