"""``{{ status.system_id|system_label }}``: a vehicle system (SYSTEM_ABS) in a manager's words."""

from django import template

from vehicles.obd import describe_system

register = template.Library()
register.filter("system_label", describe_system)
