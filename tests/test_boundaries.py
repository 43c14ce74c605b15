"""The app talks to Smartcar only over HTTP; the simulator is written from the documentation; imports point down.

No app module imports the simulator, and the simulator imports none of the app's modules, so
a mistake in one cannot hide in the other (DESIGN.md, "Boundaries"). ``fleet`` (the project and the tenant) is
the bottom layer and imports no other app of ours; ``dashboard`` (the fleet-wide pages) is the top one, imported
by none.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ["fleet", "connect", "vehicles", "charging", "maintenance", "dashboard", "trips", "alerts"]
# Apps that sit on top of the others: no app below them imports them (they learn of new data through signals).
TOP_PACKAGES = ["dashboard", "alerts"]


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", APP_PACKAGES)
def test_no_app_module_imports_the_simulator(package):
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports(package) if _top(m) == "simulator"]
    assert offending == []


def test_the_simulator_imports_no_app_module():
    # fleet.settings is configuration, not the app; reading it goes through django.conf.settings.
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports("simulator") if _top(m) in APP_PACKAGES]
    assert offending == []


def test_fleet_imports_no_app_above_it():
    above = set(APP_PACKAGES) - {"fleet"}
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports("fleet") if _top(m) in above]
    assert offending == []


@pytest.mark.parametrize("package", [p for p in APP_PACKAGES if p not in TOP_PACKAGES])
@pytest.mark.parametrize("top", TOP_PACKAGES)
def test_no_app_below_imports_the_top_ones(package, top):
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports(package) if _top(m) == top]
    assert offending == []


def test_dashboard_and_alerts_do_not_import_each_other():
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports("dashboard") if _top(m) == "alerts"]
    offending += [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports("alerts") if _top(m) == "dashboard"]
    assert offending == []


@pytest.mark.parametrize("package", ["fleet", "connect", "vehicles", "charging"])
def test_no_lower_app_imports_trips(package):
    """Trips sit above vehicles, charging and the fleet: those follow nothing of it (the sync engine announces stored
    readings through vehicles.signals instead)."""
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports(package) if _top(m) == "trips"]
    assert offending == []


def test_every_app_is_checked():
    """A new app must join APP_PACKAGES, or the checks above would silently skip it."""
    ours = {path.parent.name for path in ROOT.glob("*/apps.py")} - {"simulator"}
    assert ours == set(APP_PACKAGES)


def test_the_boundary_check_sees_imports():
    """Guards the guard: the scanner finds a known import, so an empty result above means something."""
    assert any(m == "fleet.tenancy" for _, m in _imports("fleet"))
    assert any(_top(m) == "vehicles" for _, m in _imports("dashboard"))
    assert any(m == "vehicles.conditions" for _, m in _imports("alerts"))


@pytest.mark.parametrize("package", ["fleet", "connect", "vehicles", "charging"])
def test_no_app_below_maintenance_imports_it(package):
    """Maintenance sits above vehicles and charging (it reads their records); they never reach up into it."""
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports(package) if _top(m) == "maintenance"]
    assert offending == []


def test_trips_does_not_import_maintenance():
    """Maintenance filters its board by trips' places; trips knows nothing of maintenance."""
    offending = [f"{p.relative_to(ROOT)}: {m}" for p, m in _imports("trips") if _top(m) == "maintenance"]
    assert offending == []
