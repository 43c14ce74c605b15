"""A viewer's POST to any page of their own fleet is refused (403, or 405 where the page takes no POST) and changes
nothing."""

import pytest

from tests.security.conftest import PROBES, changed_tables, database_fingerprint
from tests.security.patterns import ROLES, fill, patterns_for

PATTERNS = [p for p in patterns_for(ROLES) if p.is_fleet_page]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.label)
def test_a_viewers_writes_are_refused(pattern, world):
    url = pattern.url(fill(pattern, world.a))
    client = world.client(world.a.viewer)
    before = database_fingerprint()
    response = client.post(url, {"name": "Changed", "role": "owner", "email": "x@example.com"})
    PROBES[ROLES] += 1
    assert response.status_code in (403, 405), f"{pattern.label}: a viewer's POST answered {response.status_code}"
    assert changed_tables(before) == [], f"{pattern.label}: a viewer's POST changed something"
