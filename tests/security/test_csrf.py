"""A POST without the CSRF token is refused (403) on every page, signed in or not, and changes nothing."""

import pytest

from tests.security.conftest import PROBES, changed_tables, database_fingerprint
from tests.security.patterns import CSRF, fill, patterns_for


@pytest.mark.parametrize("pattern", patterns_for(CSRF), ids=lambda p: p.label)
def test_a_post_without_the_csrf_token_is_refused(pattern, world):
    url = pattern.url(fill(pattern, world.a))
    clients = {"owner": world.client(world.a.owner, csrf=True), "anonymous": world.client(csrf=True)}
    before = database_fingerprint()
    for who, client in clients.items():
        response = client.post(url, {"name": "Changed", "email": "x@example.com"})
        PROBES[CSRF] += 1
        assert response.status_code == 403, f"{pattern.label} ({who}): {response.status_code}"
    assert changed_tables(before) == [], f"{pattern.label}: a POST without the CSRF token changed something"
