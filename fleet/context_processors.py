def fleet_context(request):
    """The current fleet and membership (set by ``fleet_view``) and the user's fleets for the nav."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_fleet": getattr(request, "fleet", None),
        "current_membership": getattr(request, "membership", None),
        "user_memberships": user.memberships.select_related("fleet"),
    }
