"""Sign-up through an invitation: open to the invited address alone, which the invitation link proves.

The invitation was mailed to its address, so whoever opened its link reads that mailbox: the address is stashed as
verified (allauth's own hook for this) and sign-up needs no second verification mail. Any other address is refused,
and without a usable invitation in the session sign-up is closed (unless FLEET_OPEN_SIGNUP).
"""

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings

from fleet.models import Invitation

PENDING_INVITATION_KEY = "fleet_pending_invitation"


def pending_invitation(request) -> Invitation | None:
    """The usable invitation whose link this session opened, if any."""
    token = request.session.get(PENDING_INVITATION_KEY) if request is not None else None
    if not token:
        return None
    invitation = Invitation.objects.select_related("fleet").filter(token=token).first()
    return invitation if invitation is not None and invitation.is_usable else None


def invitation_remember(request, invitation: Invitation) -> None:
    """Called when an invitation link is opened by someone signed out: sign-up opens for its address."""
    request.session[PENDING_INVITATION_KEY] = invitation.token
    AccountAdapter(request).stash_verified_email(request, invitation.email)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        """Sign-up is closed unless configured open, or the visitor holds a valid invitation."""
        return settings.FLEET_OPEN_SIGNUP or pending_invitation(request) is not None

    def clean_email(self, email: str) -> str:
        # Sign-up only: a signed-in person changing their address is not signing up through the invitation.
        signing_up = self.request is not None and not self.request.user.is_authenticated
        invitation = pending_invitation(self.request) if signing_up else None
        if invitation is not None and not settings.FLEET_OPEN_SIGNUP and email.strip().lower() != invitation.email:
            raise forms.ValidationError(
                f"This invitation is for {invitation.email}: sign up with that address, or ask the fleet's owner "
                "to invite the address you want to use."
            )
        return super().clean_email(email)
