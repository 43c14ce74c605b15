from django.urls import reverse

from tests.conftest import make_user


def test_the_login_page_asks_for_an_email_not_a_username(client, db):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert 'type="email"' in response.text
    assert "username" not in response.text.lower()


def test_a_user_signs_in_with_email_and_password(client, fleet):
    response = client.post(
        reverse("account_login"), {"login": "OWNER@example.com", "password": "correct horse battery"}, follow=True
    )
    assert response.redirect_chain[-1][0] == fleet.get_absolute_url()


def test_a_wrong_password_is_refused_clearly(client, owner):
    response = client.post(reverse("account_login"), {"login": "owner@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "not correct" in response.text


def test_password_reset_sends_an_email(client, owner, mailoutbox):
    client.post(reverse("account_reset_password"), {"email": "owner@example.com"})
    assert mailoutbox[0].to == ["owner@example.com"]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_createsuperuser_works_without_a_username(db):
    from django.core.management import call_command

    call_command("createsuperuser", "--noinput", "--email", "admin@example.com", verbosity=0)
    from fleet.models import User

    assert User.objects.get(email="admin@example.com").is_superuser


def test_the_admin_lists_fleets(client, fleet):
    admin = make_user("admin@example.com")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    response = client.get(reverse("admin:fleet_fleet_changelist"))
    assert fleet.name in response.text
    response = client.get(reverse("admin:fleet_invitation_changelist"))
    assert response.status_code == 200
