from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from connect import tokens
from connect.client import TokenPair
from connect.models import SmartcarAccount
from fleet.models import User


def test_admin_shows_expiry_and_status_but_never_the_tokens(fleet, client):
    pair = client_pair()
    account = SmartcarAccount(fleet=fleet, smartcar_user_id="e0514ef4-5226-11e8-8c13-8f6e8f02e27e")
    tokens.account_store_tokens(account=account, pair=pair)
    account.save()
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x" * 12))

    pages = [
        client.get(reverse("admin:connect_smartcaraccount_changelist")),
        client.get(reverse("admin:connect_smartcaraccount_change", args=[account.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert "Connected" in html
        for secret in (pair.access_token, pair.refresh_token, account.access_token_encrypted[:40]):
            assert secret not in html
    assert "Refresh expires at" in pages[1].content.decode()


def client_pair() -> TokenPair:
    return TokenPair(
        access_token="access-" + "a" * 40,
        refresh_token="refresh-" + "r" * 40,
        access_expires_at=timezone.now() + timedelta(hours=2),
        refresh_expires_at=timezone.now() + timedelta(days=60),
    )
