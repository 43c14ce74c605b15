"""Template tags for the pages of lower apps that show what trips knows, without those apps importing it."""

from django import template

from trips.drivers import current_assignment

register = template.Library()


@register.simple_tag
def current_driver(vehicle):
    """The assignment under which someone has the vehicle now, or None."""
    return current_assignment(vehicle)


@register.inclusion_tag("trips/_costs.html", takes_context=True)
def charging_costs(context, fleet, first_day, last_day):
    """Charging costs per vehicle, driver and place for the days shown (the fleet's time zone), per currency."""
    from datetime import datetime, timedelta

    from trips.costs import fleet_cost_summary

    zone = fleet.zone
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone)
    after = last_day + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=zone)
    return {**fleet_cost_summary(fleet=fleet, start=start, end=end), "current_fleet": fleet,
            "request": context.get("request")}  # fmt: skip
