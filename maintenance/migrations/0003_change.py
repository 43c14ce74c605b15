"""The work orders' change record becomes the record of every maintenance change (maintenance/changes.py)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def _from_work_order_events(apps, schema_editor):
    """Each earlier event gets its fleet, vehicle and subject from its order, and its action from its words."""
    Change = apps.get_model("maintenance", "Change")
    for change in Change.objects.select_related("work_order").iterator():
        order = change.work_order
        change.fleet_id, change.vehicle_id, change.subject = order.fleet_id, order.vehicle_id, order.title[:200]
        if change.what.startswith("Opened"):
            change.action = "opened"
        elif change.what.startswith("Reopened"):
            change.action, change.note = "reopened", change.what.partition(": ")[2][:300]
        change.save()


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0001_initial"),
        ("vehicles", "0001_initial"),
        ("maintenance", "0002_servicepoint_baseline"),
    ]

    operations = [
        migrations.RenameModel("WorkOrderEvent", "Change"),
        migrations.RenameField("change", "changes", "fields"),
        migrations.AlterField(
            model_name="change",
            name="at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="change",
            name="work_order",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="changes",
                to="maintenance.workorder",
            ),
        ),
        migrations.AddField(
            model_name="change",
            name="fleet",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="fleet.fleet"
            ),
        ),
        migrations.AddField(
            model_name="change",
            name="action",
            field=models.CharField(
                choices=[
                    ("opened", "Opened a work order"), ("reopened", "Reopened a work order"), ("changed", "Changed"),
                    ("added", "Added a service to the program"), ("removed", "Removed a service from the program"),
                    ("reset", "Reset a service's due point"),
                ],
                default="changed", max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="change",
            name="service_task",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="changes",
                to="maintenance.servicetask",
            ),
        ),
        migrations.AddField(
            model_name="change",
            name="vehicle",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                to="vehicles.vehicle",
            ),
        ),
        migrations.AddField(
            model_name="change",
            name="subject",
            field=models.CharField(blank=True, help_text="The service or work order, named as it was", max_length=200),
        ),
        migrations.AddField(
            model_name="change",
            name="note",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(_from_work_order_events, migrations.RunPython.noop),
        migrations.RemoveField(model_name="change", name="what"),
        migrations.AlterField(
            model_name="change",
            name="fleet",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="fleet.fleet"),
        ),
        migrations.AddIndex(
            model_name="change",
            index=models.Index(
                condition=models.Q(work_order__isnull=True), fields=["fleet", "-at"], name="change_program_recent"
            ),
        ),
    ]
