from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

from fleet.models import Invitation

PENDING_INVITATION_KEY = "fleet_pending_invitation"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        """Sign-up is closed unless configured open, or the visitor holds a valid invitation."""
        if settings.FLEET_OPEN_SIGNUP:
            return True
        token = request.session.get(PENDING_INVITATION_KEY)
        return bool(token) and any(i.is_usable for i in Invitation.objects.filter(token=token))
