"""Template tags for the pages of lower apps that show what trips knows, without those apps importing it."""

from django import template

from trips.drivers import current_assignment

register = template.Library()


@register.simple_tag
def current_driver(vehicle):
    """The assignment under which someone has the vehicle now, or None."""
    return current_assignment(vehicle)
