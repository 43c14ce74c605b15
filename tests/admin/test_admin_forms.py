"""Every admin add and change page opens and saves, for every model registered with the admin site.

The models are enumerated from ``admin.site._registry``, so an app added later is covered without touching this
file. Each page is submitted as a browser would submit it: the form's own values, and a plausible value in each
required field left empty. A page whose model the app writes itself must not offer "Add" at all.
"""

import itertools
import uuid
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db import models
from django.forms.models import modelform_factory
from django.urls import reverse
from django.utils import timezone

from fleet.models import User

PASSWORD = "Admin-form-pass-2026"
_serial = itertools.count(1)
# Optional fields a row needs all the same, where a constraint asks for one of several (a form cannot tell which).
ROW_NEEDS = {"vehicles.DiagnosticAcknowledgement": {"dtc"}}


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _ids(items):
    return [model._meta.label for model, _ in items]


def _choice(field: forms.ChoiceField):
    for value, label in field.choices:
        if isinstance(label, list | tuple):  # an option group
            for inner, _ in label:
                if inner not in ("", None):
                    return inner
        elif value not in ("", None):
            return value
    return None


def _plausible(name: str, field: forms.Field, seen: set):
    """A value a person could type into an empty required field of this kind."""
    n = next(_serial)
    if isinstance(field, forms.ModelMultipleChoiceField):
        return [_row(field.queryset.model, seen).pk]
    if isinstance(field, forms.ModelChoiceField):
        row = _row(field.queryset.model, seen)
        return getattr(row, field.to_field_name) if field.to_field_name else row.pk
    if isinstance(field, forms.ChoiceField):
        return _choice(field)
    if isinstance(field, forms.BooleanField):
        return True
    if isinstance(field, forms.EmailField):
        return f"admin-{n}@example.com"
    if isinstance(field, forms.URLField):
        return f"https://example.com/{n}"
    if isinstance(field, forms.SlugField):
        return f"slug-{n}"
    if isinstance(field, forms.UUIDField):
        return uuid.uuid4()
    if isinstance(field, forms.JSONField):
        return {"note": "typed in admin"}
    if isinstance(field, forms.SplitDateTimeField | forms.DateTimeField):
        return timezone.now()
    if isinstance(field, forms.DateField):
        return date.today()
    if isinstance(field, forms.TimeField):
        return time(8, 0)
    if isinstance(field, forms.DurationField):
        return timedelta(minutes=5)
    if isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        low = field.min_value if field.min_value is not None else 1
        return Decimal(low) if isinstance(field, forms.DecimalField) else max(low, 1)
    if isinstance(field, forms.GenericIPAddressField):
        return "127.0.0.1"
    if "password" in name:
        return PASSWORD
    value = f"admin-{n}"
    return value[: field.max_length] if getattr(field, "max_length", None) else value


def _encode(data: dict, bound: forms.BoundField, value) -> None:
    """Puts ``value`` into POST data as the field's widget would have it submitted."""
    widget = bound.field.widget
    while isinstance(widget, RelatedFieldWidgetWrapper):
        widget = widget.widget
    name = bound.html_name
    if isinstance(widget, forms.MultiWidget):
        parts = value if isinstance(value, list | tuple) else widget.decompress(value)
        for suffix, sub, part in zip(widget.widgets_names, widget.widgets, parts, strict=True):
            data[name + suffix] = sub.format_value(part) or ""
    elif isinstance(widget, forms.CheckboxInput):
        if value:
            data[name] = "on"
    elif isinstance(widget, forms.SelectMultiple):
        data[name] = [str(v) for v in value or []]
    else:
        formatted = widget.format_value(bound.field.prepare_value(value))
        if isinstance(formatted, list):  # a single select formats its value as the list of selected options
            formatted = formatted[0] if formatted else ""
        data[name] = "" if formatted is None else formatted


def _form_data(form: forms.BaseForm, seen: set, *, fill: bool = True, needs: frozenset = frozenset()) -> dict:
    data: dict = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = bound.value()
        # The user form's two password fields are optional to the form (one may choose no password) but not here.
        wanted = bound.field.required or bound.name.startswith("password") or bound.name in needs
        if fill and wanted and value in bound.field.empty_values:
            value = _plausible(bound.name, bound.field, seen)
        _encode(data, bound, value)
    return data


def _row(model, seen: set):
    """A row of ``model``: an existing one, or one made through a form of every editable field."""
    existing = model._default_manager.first()
    if existing is not None:
        return existing
    if model in seen:
        raise AssertionError(f"{model._meta.label} needs a row of itself first")
    seen = seen | {model}
    form_class = modelform_factory(model, fields="__all__", formfield_callback=_formfield)
    needs = frozenset(ROW_NEEDS.get(model._meta.label, ()))
    form = form_class(data=_form_data(form_class(), seen, needs=needs))
    assert form.is_valid(), (model._meta.label, form.errors)
    return form.save()


def _formfield(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"  # the scheme Django 6 assumes; the app's own forms say so too
    return field.formfield(**kwargs)


def _page_data(page, seen: set, *, fill: bool) -> dict:
    data = _form_data(page.context["adminform"].form, seen, fill=fill)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({bound.html_name: bound.value() for bound in formset.management_form})
        for form in formset.initial_forms:
            data.update(_form_data(form, seen, fill=False))
    return data


def _errors(page) -> str:
    if page.status_code != 200 or page.context is None or "adminform" not in page.context:
        return f"status {page.status_code}"
    found = [page.context["adminform"].form.errors]
    found += [inline.formset.errors for inline in page.context["inline_admin_formsets"]]
    return str(found)


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser(email="root@example.com", password=PASSWORD))
    return client


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize(("model", "model_admin"), _registered(), ids=_ids(_registered()))
def test_its_add_page_saves_or_is_not_offered(superuser_client, model, model_admin):
    page = superuser_client.get(_url(model, "add"))
    if page.status_code == 403:
        return  # records the app writes itself: no "Add"
    assert page.status_code == 200
    before = model._default_manager.count()
    answer = superuser_client.post(_url(model, "add"), _page_data(page, set(), fill=True))
    assert answer.status_code == 302, _errors(answer)
    assert model._default_manager.count() == before + 1


@pytest.mark.parametrize(("model", "model_admin"), _registered(), ids=_ids(_registered()))
def test_its_change_page_opens_and_saves_unchanged(superuser_client, model, model_admin):
    row = _row(model, set())
    page = superuser_client.get(_url(model, "change", row.pk))
    assert page.status_code == 200
    if not page.context["has_change_permission"]:
        return  # shown read-only: nothing to save
    answer = superuser_client.post(_url(model, "change", row.pk), _page_data(page, set(), fill=False))
    assert answer.status_code == 302, _errors(answer)
