"""No input answers 500: NUL bytes, control characters, 10,000 characters, negative and huge numbers and unknown
keys, in the path, the query string and form fields of every page (issue 12, item 8).

The query keys tried are every field of every form of the project and every key a view reads from ``request.GET``,
found in the source, so a new filter is tried without being listed.
"""

import inspect
import re
from pathlib import Path

import pytest
from django import forms
from django.apps import apps
from django.conf import settings

from tests.security.conftest import PROBES
from tests.security.patterns import ABSURD, fill, patterns_for

PATTERNS = patterns_for(ABSURD)
LONG = "x" * 10_000
HUGE = "9" * 30
ABSURD_VALUES = ["-1", HUGE, "1e309", LONG, "-no-such-sort-key", "2026-13-45"]
GENERIC_KEYS = {"page", "sort", "order", "q", "next", "per_page", "cursor"}


def _project_apps():
    return [a for a in apps.get_app_configs() if Path(a.path).is_relative_to(settings.BASE_DIR)]


def _query_keys() -> set[str]:
    keys = set(GENERIC_KEYS)
    for app in _project_apps():
        for path in Path(app.path).rglob("*.py"):
            keys |= set(re.findall(r"GET(?:\.get|\.getlist)?[(\[]\s*[\"'](\w+)[\"']", path.read_text()))
    for form in _all_subclasses(forms.BaseForm):
        module = inspect.getmodule(form)
        if module and any(module.__name__.startswith(app.name + ".") for app in _project_apps()):
            keys |= set(form.base_fields)
    return keys


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _absurd_kwargs(pattern, values):
    """The pattern's URL with one keyword argument at a time replaced by absurd values (a value its converter refuses
    answers 404 from the resolver). The fleet's slug goes through one lookup (fleet/tenancy.py) whatever the page:
    one absurd value is enough for it."""
    for kwarg in pattern.kwargs:
        for value in (LONG[:2000],) if kwarg == "fleet_slug" else (HUGE, LONG[:2000], "%00"):
            yield kwarg, pattern.url({**values, kwarg: value})


@pytest.fixture(scope="module")
def query_keys():
    return sorted(_query_keys())


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.label)
def test_absurd_query_strings_never_answer_500(pattern, world, query_keys):
    url = pattern.url(fill(pattern, world.a))
    client = world.client(world.a.owner)
    for value in ABSURD_VALUES:
        response = client.get(url, dict.fromkeys(query_keys, value))
        PROBES[ABSURD] += 1
        assert response.status_code < 500, f"{pattern.label}?…={value[:20]}: {response.status_code}"


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if p.kwargs], ids=lambda p: p.label)
def test_absurd_path_segments_never_answer_500(pattern, world):
    values = fill(pattern, world.a)
    client = world.client(world.a.owner)
    for kwarg, url in _absurd_kwargs(pattern, values):
        response = client.get(url)
        PROBES[ABSURD] += 1
        assert response.status_code < 500, f"{pattern.label} with {kwarg} absurd: {response.status_code}"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.label)
def test_nul_in_the_query_string_or_a_form_field_answers_400(pattern, world, query_keys):
    url = pattern.url(fill(pattern, world.a))
    client = world.client(world.a.owner)
    answers = [
        client.get(url, {"page": "1\x00"}).status_code,
        client.post(url, dict.fromkeys(query_keys, "a\x00b")).status_code,
    ]
    PROBES[ABSURD] += len(answers)
    assert answers == [400, 400], f"{pattern.label}: {answers}"


@pytest.mark.parametrize("segment", ["%00", "a%00b", "%0a", "%0d%0aSet-Cookie:x=1", "%7f", "%c0%80", "%ff%fe"])
def test_invalid_characters_in_a_path_segment_answer_400_or_404(world, segment):
    client = world.client(world.a.owner)
    for url in (f"/invitations/{segment}/", f"/fleets/{world.a.fleet.slug}/vehicles/{segment}/", f"/{segment}"):
        response = client.get(url)
        PROBES[ABSURD] += 1
        assert response.status_code in (400, 404), f"{url}: {response.status_code}"


def test_nul_in_the_adopt_form_answers_400_and_adopts_nothing(world):
    account, client = world.a.account, world.client(world.a.owner)
    url = f"/fleets/{world.a.fleet.slug}/connections/smartcar/{account.pk}/adopt/"
    response = client.post(url, {"smartcar_vehicle_id": "vehicle\x00"})
    PROBES[ABSURD] += 1
    assert response.status_code == 400
    assert not world.a.fleet.vehicles.exists()
