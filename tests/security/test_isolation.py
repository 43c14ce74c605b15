"""Another fleet's ids answer 404 to fleet A's owner, by GET and by POST, and change nothing.

Two ways in for each pattern: fleet B's URL as it is (B's slug and B's objects), and fleet A's slug with B's
objects, the way a member of A would try B's ids under a fleet they belong to.
"""

import pytest

from tests.security.conftest import PROBES, changed_tables, database_fingerprint
from tests.security.patterns import ISOLATION, UNOWNED_KWARGS, fill, patterns_for

# Only patterns naming a fleet or a fleet's object can be asked for another fleet's.
PATTERNS = [p for p in patterns_for(ISOLATION) if set(p.kwargs) - UNOWNED_KWARGS]


def _variants(pattern, world):
    a = fill(pattern, world.a)
    b = fill(pattern, world.b, overrides={k: a[k] for k in UNOWNED_KWARGS & set(pattern.kwargs)})
    yield "fleet B's URL", pattern.url(b)
    if pattern.is_fleet_page and set(pattern.kwargs) - {"fleet_slug"} - UNOWNED_KWARGS:
        yield "fleet B's objects under fleet A", pattern.url({**b, "fleet_slug": a["fleet_slug"]})


def _get(client, url, world) -> int:
    """A visit (GET) to an action's address may be sent on to the page with its button without looking anything up
    (connect/views.py): followed, if the target names none of fleet B's objects. It then answers 404 under B's slug,
    or is A's own page (reported as 404: nothing of B was reached)."""
    response = client.get(url)
    if response.status_code != 302:
        return response.status_code
    target = response["Location"]
    b_ids = {str(obj.pk) for obj in world.b.__dict__.values() if hasattr(obj, "pk")}
    assert not set(target.strip("/").split("/")) & b_ids, f"{url} sent on to {target}, naming fleet B's object"
    followed = client.get(target).status_code
    own_page = target.startswith(f"/fleets/{world.a.fleet.slug}/") and followed == 200
    return 404 if own_page else followed


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.label)
def test_another_fleets_ids_are_not_found(pattern, world):
    client = world.client(world.a.owner)
    variants = list(_variants(pattern, world))
    before = database_fingerprint()
    for variant, url in variants:
        answers = {"get": _get(client, url, world), "post": client.post(url).status_code}
        PROBES[ISOLATION] += 2
        assert set(answers.values()) <= {404, 405}, f"{pattern.label}, {variant}: {answers}"
        assert 404 in answers.values(), f"{pattern.label}, {variant}: neither method reaches the view: {answers}"
    assert changed_tables(before) == [], f"{pattern.label}: another fleet's ids changed something"
