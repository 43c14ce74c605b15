"""Simulated Smartcar Connect: sign in, choose vehicles, approve or deny, and every documented error."""

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from simulator.models import Connection, SmartcarUser, Token, Vehicle
from tests.simulator.platform_fixtures import client_auth, default_application, make_user, make_vehicle

AUTHORIZE = "/simulator/connect/oauth/authorize"
REDIRECT_URI = settings.SMARTCAR_REDIRECT_URI


@pytest.fixture
def browser(db):
    """A client that enforces CSRF like a real browser session would."""
    default_application()
    return Client(enforce_csrf_checks=True)


def authorize_url(**overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": settings.SMARTCAR_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "read_vehicle_info read_odometer read_battery read_fuel",
        "state": "state-123",
        "mode": "live",
        **overrides,
    }
    return AUTHORIZE + "?" + urlencode({k: v for k, v in params.items() if v is not None})


def form_fields(response) -> dict:
    html = response.content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    return {name: unescape(value) for name, value in fields.items()}


def vehicle_options(response) -> list[tuple[str, bool]]:
    """(vehicle_id, enabled) of each vehicle choice on the consent page."""
    html = response.content.decode()
    return [
        (value, "disabled" not in rest)
        for value, rest in re.findall(r'name="vehicle" value="([^"]+)"([^>]*)>', html, flags=re.S)
    ]


def sign_in(browser, email: str, url: str | None = None, region: str = "US"):
    page = browser.get(url or authorize_url())
    assert page.status_code == 200, page.content
    return browser.post(
        "/simulator/connect/oauth/sign-in",
        {**form_fields(page), "email": email, "password": "anything", "region": region, "action": "sign_in"},
    )


def approve(browser, consent, vehicle_ids):
    return browser.post(
        "/simulator/connect/oauth/grant", {**form_fields(consent), "vehicle": vehicle_ids, "action": "approve"}
    )


def redirect_params(response) -> dict:
    assert response.status_code == 302, response.content
    location = response["Location"]
    assert location.startswith(REDIRECT_URI)
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def test_the_sign_in_page_is_a_consent_screen_with_its_own_stylesheet(browser):
    response = browser.get(authorize_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "wants to connect to your vehicle" in html
    assert "/static/simulator/connect.css" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="email"' in html
    assert "style=" not in html
    assert "http://testserver" in response["Content-Security-Policy"]


def test_approving_redirects_with_a_code_that_the_token_endpoint_accepts(browser):
    consent = sign_in(browser, "3-vehicles@example.com")
    assert consent.status_code == 200
    options = vehicle_options(consent)
    assert len(options) == 3

    chosen = [vehicle_id for vehicle_id, _ in options[:2]]
    params = redirect_params(approve(browser, consent, chosen))

    assert params["state"] == "state-123"
    user = SmartcarUser.objects.get(email="3-vehicles@example.com")
    assert params["user_id"] == user.user_id  # API v3's addition (auth__connect-redirect-user-id.md)
    connections = Connection.objects.filter(user=user)
    assert {c.vehicle.vehicle_id for c in connections} == set(chosen)
    assert {c.mode for c in connections} == {"live"}
    exchange = browser.post(
        "/simulator/oauth/token",
        {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT_URI},
        HTTP_AUTHORIZATION=client_auth(),
    )
    assert exchange.status_code == 200
    assert Token.objects.get(access_token=exchange.json()["access_token"]).user == user


def test_an_n_vehicles_address_gets_n_vehicles(browser):
    consent = sign_in(browser, "7-vehicles@example.com")

    assert len(vehicle_options(consent)) == 7
    assert Vehicle.objects.filter(owner__email="7-vehicles@example.com").count() == 7


def test_granted_permissions_are_the_scope_minus_what_the_make_cannot_do(browser):
    vehicle = make_vehicle(make_user("mach-e@example.com"), make="FORD", model="Mustang Mach-E", engine_type="BEV")
    consent = sign_in(browser, "mach-e@example.com")

    redirect_params(approve(browser, consent, [vehicle.vehicle_id]))

    assert Connection.objects.get(vehicle=vehicle).permissions == ["read_vehicle_info", "read_odometer", "read_battery"]


def test_a_required_permission_the_vehicle_cannot_serve_makes_it_incompatible(browser):
    vehicle = make_vehicle(make_user("transit@example.com"), make="FORD", model="Transit", engine_type="ICE")

    response = sign_in(browser, "transit@example.com", url=authorize_url(scope="read_odometer required:read_battery"))

    params = redirect_params(response)
    assert params["error"] == "vehicle_incompatible"
    assert (params["vin"], params["make"], params["model"], params["year"]) == (
        vehicle.vin,
        "FORD",
        "Transit",
        str(vehicle.year),
    )
    assert params["state"] == "state-123"
    assert not Connection.objects.exists()


def test_incompatible_vehicles_are_shown_but_cannot_be_chosen(browser):
    owner = make_user("mixed@example.com")
    tesla = make_vehicle(owner, make="TESLA", model="Model 3", engine_type="BEV")
    transit = make_vehicle(owner, make="FORD", model="Transit", engine_type="ICE")
    consent = sign_in(browser, "mixed@example.com", url=authorize_url(scope="required:read_battery"))

    assert vehicle_options(consent) == [(tesla.vehicle_id, True), (transit.vehicle_id, False)]
    refused = approve(browser, consent, [transit.vehicle_id])
    assert refused.status_code == 400
    assert not Connection.objects.exists()


def test_denying_returns_access_denied(browser):
    consent = sign_in(browser, "someone@example.com")

    response = browser.post("/simulator/connect/oauth/grant", {**form_fields(consent), "action": "deny"})

    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert not Connection.objects.exists()


def test_cancelling_sign_in_returns_access_denied(browser):
    page = browser.get(authorize_url())

    response = browser.post("/simulator/connect/oauth/sign-in", {**form_fields(page), "action": "deny"})

    assert redirect_params(response)["error"] == "access_denied"


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("no-vehicles@example.com", "no_vehicles"),
        ("invalid-subscription@example.com", "invalid_subscription"),
        ("server-error@example.com", "server_error"),
        ("configuration-error@example.com", "configuration_error"),
        ("incompatible@example.com", "vehicle_incompatible"),
    ],
)
def test_tester_addresses_produce_each_documented_error(browser, email, error):
    params = redirect_params(sign_in(browser, email))

    assert params["error"] == error
    assert params["error_description"]
    assert params["state"] == "state-123"
    if error == "vehicle_incompatible":
        vehicle = Vehicle.objects.get(owner__email=email)
        assert (params["vin"], params["make"], params["model"]) == (vehicle.vin, vehicle.make, vehicle.model)
    if error == "configuration_error":
        assert params["status_code"].isdigit()
        assert params["error_message"]


def test_single_select_allows_one_vehicle(browser):
    url = authorize_url(single_select="true")
    consent = sign_in(browser, "2-vehicles@example.com", url=url)
    assert 'type="radio"' in consent.content.decode()
    both = [vehicle_id for vehicle_id, _ in vehicle_options(consent)]

    refused = approve(browser, consent, both)
    assert refused.status_code == 400
    assert "Choose one vehicle" in refused.content.decode()

    redirect_params(approve(browser, consent, both[:1]))
    assert Connection.objects.count() == 1


def test_a_make_bypass_offers_only_vehicles_of_that_make(browser):
    make_vehicle(make_user("driver@example.com"), make="FORD", model="Transit", engine_type="ICE")

    consent = sign_in(browser, "driver@example.com", url=authorize_url(make="tesla"))

    options = vehicle_options(consent)
    assert len(options) == 1
    assert Vehicle.objects.get(vehicle_id=options[0][0]).make == "TESLA"


def test_makes_are_written_as_their_brands_write_them(browser):
    page = browser.get(authorize_url(make="mercedes_benz"))
    assert "Sign in to your Mercedes-Benz connected-services account." in page.content.decode()
    page = browser.get(authorize_url(make="bmw"))
    assert "Sign in to your BMW connected-services account." in page.content.decode()
    make_vehicle(make_user("citroen@example.com"), make="CITROEN", model="ë-C4", engine_type="BEV")
    consent = sign_in(browser, "citroen@example.com")
    assert "Citroën" in consent.content.decode()


def test_the_mode_is_recorded_on_the_connection(browser):
    consent = sign_in(browser, "1-vehicle@example.com", url=authorize_url(mode="test"))

    redirect_params(approve(browser, consent, [vehicle_options(consent)[0][0]]))

    assert Connection.objects.get().mode == "test"


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "nobody"}, {"redirect_uri": "https://attacker.example/steal"}, {"client_id": None}],
)
def test_an_unknown_client_or_redirect_uri_gets_an_error_page_never_a_redirect(browser, overrides):
    response = browser.get(authorize_url(**overrides))

    assert response.status_code == 400
    assert "Location" not in response
    assert "attacker.example" not in response.content.decode()


@pytest.mark.parametrize("overrides", [{"response_type": "token"}, {"mode": "party"}, {"scope": "read_everything"}])
def test_bad_parameters_get_the_configuration_error_page_with_a_way_back(browser, overrides):
    response = browser.get(authorize_url(**overrides))

    assert response.status_code == 400
    back = unescape(re.search(r'href="([^"]+)">Back to application', response.content.decode()).group(1))
    params = {name: values[0] for name, values in parse_qs(urlsplit(back).query).items()}
    assert back.startswith(REDIRECT_URI)
    assert params["error"] == "configuration_error"
    assert params["status_code"] == "400"
    assert params["error_message"]
    assert params["state"] == "state-123"


def test_a_tampered_flow_is_refused(browser):
    page = browser.get(authorize_url())
    fields = form_fields(page)
    fields["flow"] = fields["flow"][:-3] + "abc"

    response = browser.post(
        "/simulator/connect/oauth/sign-in", {**fields, "email": "a@example.com", "action": "sign_in"}
    )

    assert response.status_code == 400
    assert not SmartcarUser.objects.exists()


def test_a_bad_email_is_asked_again(browser):
    response = sign_in(browser, "not an address")

    assert response.status_code == 400
    assert "valid e-mail" in response.content.decode()


def test_forms_need_the_csrf_token(browser):
    page = browser.get(authorize_url())
    fields = {k: v for k, v in form_fields(page).items() if k != "csrfmiddlewaretoken"}

    response = browser.post(
        "/simulator/connect/oauth/sign-in", {**fields, "email": "a@example.com", "action": "sign_in"}
    )

    assert response.status_code == 403
    assert not SmartcarUser.objects.exists()
