from django.db import migrations, models


class Migration(migrations.Migration):
    """Sessions keep no source id of their own any more; their observations do (a migration of its own, so that on
    PostgreSQL the rows moved by 0002 are committed before these tables change)."""

    dependencies = [
        ("charging", "0002_sessions_merged"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='chargingsession',
            name='chargingsession_unique_vehicle_source_id',
        ),
        migrations.RemoveField(
            model_name='chargingsession',
            name='external_id',
        ),
        migrations.AddField(
            model_name='chargingsession',
            name='energy_source',
            field=models.CharField(blank=True, choices=[('record', "The car maker's record"), ('energy_added', 'Energy added, as the vehicle reported it'), ('capacity', 'Battery capacity × charge gained')], max_length=16),
        ),
        migrations.AlterField(
            model_name='chargingsession',
            name='source',
            field=models.CharField(choices=[('charge_record', 'BMW/MINI charge record'), ('billing_record', 'Tesla billing record'), ('webhook', 'Charging events'), ('sync', 'Synced readings')], max_length=16),
        ),
    ]
