from django.core.management.base import BaseCommand
from django.db import transaction

from fleet.models import Fleet, Membership, Role, User

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "fleet-demo"  # noqa: S105 — the printed login of the local demo, not a secret
DEMO_FLEET = "Demo Fleet"


class Command(BaseCommand):
    help = "Creates (or refreshes) the demo fleet and its owner's login, and prints both."

    @transaction.atomic
    def handle(self, *args, **options):
        user, created = User.objects.get_or_create(email=DEMO_EMAIL, defaults={"name": "Demo Owner"})
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save()
        fleet = Fleet.objects.filter(slug="demo").first() or Fleet.objects.create(name=DEMO_FLEET, slug="demo")
        Membership.objects.update_or_create(user=user, fleet=fleet, defaults={"role": Role.OWNER})
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo fleet: {fleet.name} — http://127.0.0.1:8000{fleet.get_absolute_url()}\n"
                f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}"
            )
        )
