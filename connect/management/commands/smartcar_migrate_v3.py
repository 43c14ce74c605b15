"""Moves the installation from Smartcar API v2.0 to v3 (connect/migration.py); ``--dry-run`` only reports."""

from django.core.management.base import BaseCommand, CommandError

from connect.migration import installation_migrate_to_v3


class Command(BaseCommand):
    help = (
        "Captures every account's Smartcar user id, checks that every connected vehicle answers on Smartcar API v3, "
        "then switches the installation to v3. With --dry-run, reports what would change and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check and report only; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        report = installation_migrate_to_v3(dry_run=dry_run, by="manage.py smartcar_migrate_v3")
        for line in report.lines:
            self.stdout.write(line)
        if not dry_run and not (report.switched or report.already):
            raise CommandError("The installation was not switched to Smartcar API v3.")
