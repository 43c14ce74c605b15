"""Template filter for a make as its brand writes it ("BMW", "Mercedes-Benz")."""

from django import template

import vehicles.models

register = template.Library()


@register.filter
def make_label(make: str) -> str:
    return vehicles.models.make_label(make)
