"""An e-mail address counts only once verified (issue 12, item 3): sign-in, invitations and member lists."""

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from fleet.models import Membership, Role
from fleet.services import fleet_create, invitation_create
from tests.conftest import make_user

TARGET = "boss@globex.example"


@pytest.fixture
def invitation_to_globex(other_fleet):
    owner = other_fleet.memberships.get().user
    return invitation_create(
        fleet=other_fleet, email=TARGET, role=Role.MANAGER, invited_by=owner, accept_url_for=lambda i: "/"
    )


def test_an_added_address_cannot_be_made_primary_before_it_is_verified(viewer_client, viewer):
    viewer_client.post(reverse("account_email"), {"action_add": "", "email": TARGET})
    viewer_client.post(reverse("account_email"), {"action_primary": "", "email": TARGET})
    viewer.refresh_from_db()
    assert viewer.email == "viewer@example.com"
    assert not EmailAddress.objects.filter(email=TARGET, verified=True).exists()


def test_an_unverified_address_does_not_accept_an_invitation(viewer_client, viewer, other_fleet, invitation_to_globex):
    """The attack as it was: add the invited address, make it primary, open the invitation and accept."""
    viewer_client.post(reverse("account_email"), {"action_add": "", "email": TARGET})
    viewer_client.post(reverse("account_email"), {"action_primary": "", "email": TARGET})
    viewer_client.post(invitation_to_globex.get_absolute_url())
    assert not Membership.objects.filter(user=viewer, fleet=other_fleet).exists()


def test_an_account_whose_own_address_is_unverified_does_not_accept(client, other_fleet, invitation_to_globex):
    """An account made before verification was required: its address is its own word, not proof."""
    user = make_user(TARGET, verified=False)
    client.force_login(user)
    client.post(invitation_to_globex.get_absolute_url())
    assert not Membership.objects.filter(user=user, fleet=other_fleet).exists()
    invitation_to_globex.refresh_from_db()
    assert invitation_to_globex.accepted_at is None


def test_a_verified_address_accepts(client, other_fleet, invitation_to_globex):
    user = make_user(TARGET)
    client.force_login(user)
    client.post(invitation_to_globex.get_absolute_url())
    assert Membership.objects.get(user=user, fleet=other_fleet).role == Role.MANAGER


def test_signing_in_waits_for_a_verified_address(client, db, mailoutbox):
    make_user("unproven@example.com", verified=False)
    credentials = {"login": "unproven@example.com", "password": "correct horse battery"}
    response = client.post(reverse("account_login"), credentials)
    assert "_auth_user_id" not in client.session
    assert response.status_code == 302 and response.url == reverse("account_email_verification_sent")
    assert mailoutbox[0].to == ["unproven@example.com"]


def test_member_lists_show_verified_addresses_only(owner_client, fleet):
    unproven = make_user("claims.to.be.ceo@example.com", verified=False)
    Membership.objects.create(user=unproven, fleet=fleet, role=Role.VIEWER)
    page = owner_client.get(reverse("fleet_members", args=[fleet.slug])).content.decode()
    assert "claims.to.be.ceo@example.com" not in page
    assert "not verified yet" in page
    assert "owner@example.com" in page


def test_a_fleet_owner_with_a_verified_address_is_listed_by_it(client, db):
    owner = make_user("founder@example.com")
    fleet = fleet_create(name="Initech", owner=owner)
    client.force_login(owner)
    assert "founder@example.com" in client.get(reverse("fleet_members", args=[fleet.slug])).content.decode()
