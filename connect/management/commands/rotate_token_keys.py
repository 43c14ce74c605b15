from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connect import vault
from connect.models import SmartcarAccount


class Command(BaseCommand):
    help = (
        "Re-encrypts every stored Smartcar token with the newest key of TOKEN_ENCRYPTION_KEYS. Run it after "
        "prepending a new key; the old key can be removed once it has finished."
    )

    def handle(self, *args, **options):
        rotated = 0
        ids = list(SmartcarAccount.objects.order_by("pk").values_list("pk", flat=True))
        for pk in ids:
            # One short transaction per account, with the row locked, so that a token refresh running at the
            # same time never has its new pair overwritten by this command's copy of the old one.
            with transaction.atomic():
                account = SmartcarAccount.objects.select_for_update().filter(pk=pk).first()
                if account is None:
                    continue
                try:
                    account.access_token_encrypted = vault.reencrypt(account.access_token_encrypted)
                    account.refresh_token_encrypted = vault.reencrypt(account.refresh_token_encrypted)
                except vault.VaultError as exc:
                    raise CommandError(f"Account {pk}: {exc}. Keep the old keys until this succeeds.") from None
                account.save(update_fields=["access_token_encrypted", "refresh_token_encrypted"])
                rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the tokens of {rotated} Smartcar account(s)."))
