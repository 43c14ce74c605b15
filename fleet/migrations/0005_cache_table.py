"""The table of the default cache (CACHE_URL db://…), so that `migrate` is all an installation needs."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # Creates the table of every configured database cache that lacks one; nothing when CACHE_URL is redis://.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("fleet", "0004_condition_thresholds")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
