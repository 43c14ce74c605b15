"""An invitation admits exactly the invited address, once (issue 12, item 2)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.urls import reverse

from fleet.models import Invitation, Membership, Role, User
from fleet.services import invitation_create
from tests.conftest import make_user

INVITED = "new.person@example.com"
PASSWORD = "a long pass phrase"


@pytest.fixture
def invitation(fleet, owner, mailoutbox) -> Invitation:
    return invitation_create(
        fleet=fleet, email=INVITED, role=Role.MANAGER, invited_by=owner, accept_url_for=lambda i: i.get_absolute_url()
    )


def _sign_up(client, email, next_url=""):
    url = reverse("account_signup") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"email": email, "password1": PASSWORD, "password2": PASSWORD})


def test_the_sign_up_form_from_an_invitation_shows_the_invited_address_fixed(client, invitation):
    client.get(invitation.get_absolute_url())
    page = client.get(reverse("account_signup")).content.decode()
    field = re.search(r"<input[^>]*name=\"email\"[^>]*>", page).group(0)
    assert f'value="{INVITED}"' in field
    assert "readonly" in field


@pytest.mark.parametrize("other", ["someone.else@example.com", "NEW.PERSON@example.org", "attacker@evil.test"])
def test_any_other_address_is_refused(client, invitation, other):
    client.get(invitation.get_absolute_url())
    response = _sign_up(client, other)
    assert response.status_code == 200
    assert INVITED in response.context["form"].errors["email"][0]
    assert not User.objects.filter(email=other.lower()).exists()


def test_the_invited_address_signs_up_verified_and_joins(client, fleet, invitation, mailoutbox):
    link = invitation.get_absolute_url()
    client.get(link)
    response = _sign_up(client, INVITED.upper(), next_url=link)
    assert response.status_code == 302, response.context and response.context["form"].errors
    assert response.url == link  # signed in at once: the invitation link proved the address, no second mail
    user = User.objects.get(email=INVITED)
    assert EmailAddress.objects.get(user=user).verified
    assert len(mailoutbox) == 1  # the invitation only
    client.post(link)
    assert Membership.objects.get(user=user, fleet=fleet).role == Role.MANAGER


def test_without_an_invitation_sign_up_stays_closed(client, db):
    assert "closed" in client.get(reverse("account_signup")).content.decode().lower()
    _sign_up(client, "walk.in@example.com")
    assert not User.objects.filter(email="walk.in@example.com").exists()


def test_a_withdrawn_invitation_closes_sign_up_again(client, invitation):
    client.get(invitation.get_absolute_url())
    invitation.delete()
    _sign_up(client, INVITED)
    assert not User.objects.exists() or not User.objects.filter(email=INVITED).exists()


def test_a_used_invitation_cannot_create_a_second_account(client, fleet, invitation):
    link = invitation.get_absolute_url()
    client.get(link)
    _sign_up(client, INVITED, next_url=link)
    client.post(link)
    accounts = User.objects.count()

    for email in (INVITED, "second.account@example.com"):
        stranger = Client()
        assert stranger.get(link).status_code == 404
        _sign_up(stranger, email)
        # …nor in the session that signed up with it.
        client.logout()
        _sign_up(client, email)
    assert User.objects.count() == accounts


def test_two_browsers_on_one_unaccepted_link_make_one_account(invitation):
    link = invitation.get_absolute_url()
    first, second = Client(), Client()
    first.get(link)
    second.get(link)
    _sign_up(first, INVITED)
    _sign_up(second, INVITED)
    _sign_up(second, "other@example.com")
    assert list(User.objects.filter(email__in=[INVITED, "other@example.com"]).values_list("email", flat=True)) == [
        INVITED
    ]


def test_a_signed_in_person_who_opened_an_invitation_still_changes_their_own_address(client, invitation, mailoutbox):
    client.get(invitation.get_absolute_url())
    member = make_user("member@example.com")
    client.force_login(member)
    client.post(reverse("account_email"), {"action_add": "", "email": "member.new@example.com"})
    assert EmailAddress.objects.filter(user=member, email="member.new@example.com", verified=False).exists()
