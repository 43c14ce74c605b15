"""Multi-step writes for fleets, memberships and invitations."""

import logging

from allauth.account.models import EmailAddress
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from fleet.models import Fleet, Invitation, Membership, Role, User

logger = logging.getLogger(__name__)


class FleetError(Exception):
    """A change that cannot be made, with a message for the person who asked for it."""


@transaction.atomic
def fleet_create(*, name: str, owner: User, time_zone: str = "UTC", unit_system: str = "metric") -> Fleet:
    fleet = Fleet.objects.create(name=name, time_zone=time_zone, unit_system=unit_system)
    Membership.objects.create(fleet=fleet, user=owner, role=Role.OWNER)
    return fleet


def invitation_create(*, fleet: Fleet, email: str, role: str, invited_by: User, accept_url_for) -> Invitation:
    """Creates the invitation and e-mails its link. ``accept_url_for(invitation)`` builds the URL."""
    email = email.strip().lower()
    with transaction.atomic():
        # A newer invitation replaces any unused one for the same address.
        Invitation.objects.filter(fleet=fleet, email=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(fleet=fleet, email=email, role=role, invited_by=invited_by)
    context = {"invitation": invitation, "accept_url": accept_url_for(invitation), "invited_by": invited_by}
    send_mail(
        subject=f"You are invited to {fleet.name} on Fleet",
        message=render_to_string("fleet/email/invitation.txt", context),
        from_email=None,
        recipient_list=[email],
    )
    logger.info("invitation sent fleet=%s role=%s invitation=%s", fleet.slug, role, invitation.pk)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = Invitation.objects.select_for_update().select_related("fleet").filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        raise FleetError("This invitation link is no longer valid. Ask the fleet's owner for a new one.")
    # Only an address its owner verified counts: anyone can type an address into their account.
    if not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists():
        raise FleetError(
            f"This invitation was sent to {invitation.email}, but you are signed in as {user.email}. "
            "Sign in with the invited address to accept it."
        )
    membership, created = Membership.objects.get_or_create(
        user=user, fleet=invitation.fleet, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    logger.info("invitation accepted fleet=%s user=%s new=%s", invitation.fleet.slug, user.pk, created)
    return membership


def invitations_prune() -> int:
    """Deletes invitations that expired unused more than a month ago."""
    cutoff = timezone.now() - timezone.timedelta(days=30)
    deleted, _ = Invitation.objects.filter(accepted_at__isnull=True, expires_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> None:
    _keep_an_owner(membership, leaving=role != Role.OWNER)
    membership.role = role
    membership.save(update_fields=["role"])


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _keep_an_owner(membership, leaving=True)
    membership.delete()


def _keep_an_owner(membership: Membership, *, leaving: bool) -> None:
    if not leaving or membership.role != Role.OWNER:
        return
    owners = Membership.objects.select_for_update().filter(fleet=membership.fleet, role=Role.OWNER)
    if owners.count() <= 1:
        raise FleetError("A fleet needs at least one owner. Make someone else an owner first.")
