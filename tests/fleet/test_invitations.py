import re
from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from fleet.models import Invitation, Membership, Role, User
from tests.conftest import make_user


def _invite(client, fleet, email="new.person@example.com", role="manager"):
    return client.post(reverse("fleet_members", args=[fleet.slug]), {"email": email, "role": role})


def _link(mail) -> str:
    return re.search(r"http://testserver(/invitations/\S+/)", mail.body).group(1)


def test_an_owner_invites_by_email(owner_client, fleet, mailoutbox):
    response = _invite(owner_client, fleet)
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("new.person@example.com", Role.MANAGER)
    assert mailoutbox[0].to == ["new.person@example.com"]
    assert _link(mailoutbox[0]) == invitation.get_absolute_url()


def test_the_form_says_what_is_wrong(owner_client, fleet, viewer):
    response = _invite(owner_client, fleet, email="not-an-address", role="emperor")
    assert set(response.context["form"].errors) == {"email", "role"}
    response = _invite(owner_client, fleet, email="VIEWER@example.com")
    assert "already a member" in response.context["form"].errors["email"][0]
    assert not Invitation.objects.exists()


def test_a_new_person_signs_up_through_the_invitation(owner_client, fleet, mailoutbox):
    _invite(owner_client, fleet)
    link = _link(mailoutbox[0])
    client = owner_client.__class__()

    assert client.get(link).status_code == 200  # remembers the invitation for sign-up
    response = client.post(
        reverse("account_signup") + f"?next={link}",
        {"email": "new.person@example.com", "password1": "a long pass phrase", "password2": "a long pass phrase"},
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    client.post(link)

    user = User.objects.get(email="new.person@example.com")
    assert Membership.objects.get(user=user, fleet=fleet).role == Role.MANAGER
    assert Invitation.objects.get().accepted_by == user


def test_an_existing_user_accepts(owner_client, fleet, mailoutbox):
    _invite(owner_client, fleet, email="known@example.com", role="viewer")
    user = make_user("known@example.com")
    owner_client.force_login(user)
    response = owner_client.post(_link(mailoutbox[0]))
    assert response.url == fleet.get_absolute_url()
    assert Membership.objects.get(user=user, fleet=fleet).role == Role.VIEWER


def test_the_invitation_is_for_its_address_only(owner_client, fleet, mailoutbox):
    _invite(owner_client, fleet, email="known@example.com")
    owner_client.force_login(make_user("someone.else@example.com"))
    response = owner_client.post(_link(mailoutbox[0]), follow=True)
    assert "sent to known@example.com" in response.text
    assert not Membership.objects.filter(user__email="someone.else@example.com").exists()


def test_an_invitation_works_once(owner_client, fleet, mailoutbox):
    _invite(owner_client, fleet, email="known@example.com")
    owner_client.force_login(make_user("known@example.com"))
    owner_client.post(_link(mailoutbox[0]))
    assert owner_client.get(_link(mailoutbox[0])).status_code == 404


def test_an_invitation_expires(owner_client, fleet, mailoutbox):
    _invite(owner_client, fleet, email="late@example.com")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = owner_client.__class__().get(_link(mailoutbox[0]))
    assert response.status_code == 404


def test_sign_up_is_closed_without_an_invitation(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "intruder@example.com", "password1": "a long pass phrase", "password2": "a long pass phrase"},
    )
    assert not User.objects.filter(email="intruder@example.com").exists()
    assert "closed" in response.text.lower()


def test_an_owner_withdraws_an_invitation(owner_client, fleet, mailoutbox):
    _invite(owner_client, fleet)
    invitation = Invitation.objects.get()
    owner_client.post(reverse("fleet_invitation_revoke", args=[fleet.slug, invitation.pk]))
    assert not Invitation.objects.exists()
