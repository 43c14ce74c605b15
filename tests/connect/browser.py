"""Driving the simulated Connect pages with Django's test client, the way a browser follows them."""

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from django.urls import reverse


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action") or "", "hidden": {}, "choices": []})
        elif self.forms and tag == "input" and attributes.get("name"):
            kind = (attributes.get("type") or "text").lower()
            if kind == "hidden":
                self.forms[-1]["hidden"][attributes["name"]] = attributes.get("value") or ""
            elif kind in ("checkbox", "radio"):
                self.forms[-1]["choices"].append(attributes.get("value") or "")


def form_with(response, field: str) -> dict:
    parser = _Forms()
    parser.feed(response.content.decode())
    for form in parser.forms:
        if field in form["hidden"] or (field == "vehicle" and form["choices"]):
            return form
    raise AssertionError(f"no form with {field!r} on the page:\n{response.content.decode()[:2000]}")


def start(client, fleet, start_url: str | None = None, **data):
    """Clicks "Connect vehicles" (or another button that starts Connect); returns the simulated Connect page."""
    response = client.post(start_url or reverse("connect_start", args=[fleet.slug]), data)
    assert response.status_code == 302, response
    return client.get(response["Location"])


def answer_from_connect(client, fleet, email: str, *, approve: bool = True, **start_data) -> str:
    """Goes through Connect as ``email``; returns the URL Connect sends the browser back to."""
    page = start(client, fleet, **start_data)
    assert page.status_code == 200, page.content[:500]
    sign_in = form_with(page, "flow")
    page = client.post(sign_in["action"], {**sign_in["hidden"], "email": email, "region": "US", "action": "sign_in"})
    if page.status_code == 302:  # Connect ended early (a tester address for an error)
        return page["Location"]
    assert page.status_code == 200, page.content[:500]
    consent = form_with(page, "vehicle")
    data = {**consent["hidden"], "vehicle": consent["choices"], "action": "approve" if approve else "deny"}
    answer = client.post(consent["action"], data)
    assert answer.status_code == 302, answer.content[:500]
    return answer["Location"]


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def connect(client, fleet, email: str = "5-vehicles@example.com", **kwargs):
    """The whole round trip; returns the callback's response (a redirect to the fleet page on success)."""
    back = answer_from_connect(client, fleet, email, **kwargs)
    assert urlsplit(back).path == reverse("connect_callback"), back
    return client.get(back)
