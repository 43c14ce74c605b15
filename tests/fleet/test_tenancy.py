import pytest
from django.urls import reverse

from fleet.models import Membership, Role


def test_it_shows_a_members_fleet(owner_client, fleet):
    response = owner_client.get(reverse("fleet_home", args=[fleet.slug]))
    assert response.status_code == 200
    assert fleet.name in response.text


def test_it_sends_a_single_fleet_member_home_to_that_fleet(owner_client, fleet):
    response = owner_client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == fleet.get_absolute_url()


@pytest.mark.parametrize("name", ["fleet_home", "fleet_members", "fleet_settings"])
def test_it_answers_404_for_another_fleets_pages(owner_client, other_fleet, name):
    response = owner_client.get(reverse(name, args=[other_fleet.slug]))
    assert response.status_code == 404
    assert other_fleet.name not in response.text


def test_it_answers_404_for_another_fleets_membership(owner_client, fleet, other_fleet):
    foreign = other_fleet.memberships.get()
    response = owner_client.post(reverse("fleet_member_remove", args=[fleet.slug, foreign.pk]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_it_answers_404_for_a_fleet_that_does_not_exist(owner_client):
    assert owner_client.get(reverse("fleet_home", args=["no-such-fleet"])).status_code == 404


def test_it_sends_anonymous_visitors_to_the_login_page(client, fleet):
    response = client.get(reverse("fleet_home", args=[fleet.slug]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_a_viewer_can_look(viewer_client, fleet):
    assert viewer_client.get(reverse("fleet_home", args=[fleet.slug])).status_code == 200
    assert viewer_client.get(reverse("fleet_members", args=[fleet.slug])).status_code == 200


def test_a_viewer_cannot_invite(viewer_client, fleet, mailoutbox):
    response = viewer_client.post(
        reverse("fleet_members", args=[fleet.slug]), {"email": "friend@example.com", "role": "owner"}
    )
    assert response.status_code == 403
    assert not fleet.invitations.exists()
    assert mailoutbox == []


def test_a_viewer_sees_no_invitation_form(viewer_client, fleet):
    response = viewer_client.get(reverse("fleet_members", args=[fleet.slug]))
    assert "Send invitation" not in response.text


def test_a_viewer_cannot_promote_themselves(viewer_client, fleet, viewer):
    membership = Membership.objects.get(user=viewer)
    response = viewer_client.post(reverse("fleet_member_role", args=[fleet.slug, membership.pk]), {"role": "owner"})
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_a_manager_cannot_change_fleet_settings(manager_client, fleet):
    response = manager_client.post(
        reverse("fleet_settings", args=[fleet.slug]), {"name": "Renamed", "time_zone": "UTC", "unit_system": "metric"}
    )
    assert response.status_code == 403
    fleet.refresh_from_db()
    assert fleet.name == "Acme Logistics"


def test_an_owner_changes_fleet_settings(owner_client, fleet):
    response = owner_client.post(
        reverse("fleet_settings", args=[fleet.slug]),
        {
            "name": "Acme EU",
            "time_zone": "Europe/Paris",
            "unit_system": "imperial",
            "low_energy_percent": "20",
            "stale_after_minutes": "180",
        },
    )
    assert response.status_code == 302
    fleet.refresh_from_db()
    assert (fleet.name, fleet.time_zone, fleet.unit_system) == ("Acme EU", "Europe/Paris", "imperial")


def test_fleet_settings_say_which_field_is_wrong(owner_client, fleet):
    response = owner_client.post(
        reverse("fleet_settings", args=[fleet.slug]), {"name": "", "time_zone": "Mars/Olympus", "unit_system": "x"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"name", "time_zone", "unit_system"}
    fleet.refresh_from_db()
    assert fleet.name == "Acme Logistics"


def test_the_last_owner_cannot_step_down(owner_client, fleet, owner):
    membership = Membership.objects.get(user=owner)
    response = owner_client.post(
        reverse("fleet_member_role", args=[fleet.slug, membership.pk]), {"role": "viewer"}, follow=True
    )
    assert "at least one owner" in response.text
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_an_owner_removes_a_member(owner_client, fleet, viewer):
    membership = Membership.objects.get(user=viewer)
    owner_client.post(reverse("fleet_member_remove", args=[fleet.slug, membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    owner_client.force_login(viewer)
    assert owner_client.get(reverse("fleet_home", args=[fleet.slug])).status_code == 404


def test_writes_need_the_csrf_token(fleet, owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("fleet_settings", args=[fleet.slug]), {"name": "X"})
    assert response.status_code == 403
    fleet.refresh_from_db()
    assert fleet.name == "Acme Logistics"


def test_anyone_signed_in_can_create_a_fleet_and_owns_it(client, db):
    from tests.conftest import make_user

    user = make_user("new@example.com")
    client.force_login(user)
    response = client.post(
        reverse("fleet_create"), {"name": "Fresh Fleet", "time_zone": "UTC", "unit_system": "metric"}
    )
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert response.url == membership.fleet.get_absolute_url()


def test_an_owner_sets_the_dashboard_thresholds(owner_client, fleet):
    data = {"name": fleet.name, "time_zone": "UTC", "unit_system": "metric"}
    response = owner_client.post(
        reverse("fleet_settings", args=[fleet.slug]),
        {**data, "low_energy_percent": "150", "stale_after_minutes": "1"},
    )
    assert set(response.context["form"].errors) == {"low_energy_percent", "stale_after_minutes"}

    owner_client.post(
        reverse("fleet_settings", args=[fleet.slug]),
        {**data, "low_energy_percent": "30", "stale_after_minutes": "60"},
    )
    fleet.refresh_from_db()
    assert (fleet.low_energy_percent, fleet.stale_after_minutes) == (30, 60)
    assert fleet.webhooks_subscribe_new_vehicles is False  # an unticked box
