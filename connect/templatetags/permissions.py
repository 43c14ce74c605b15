"""``{{ scope|permission_label }}``: a Smartcar permission in a manager's words (connect/permissions.py)."""

from django import template

from connect.permissions import permission_label

register = template.Library()
register.filter("permission_label", permission_label)
