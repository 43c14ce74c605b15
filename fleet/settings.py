"""Django settings for Fleet.

Every value comes from an environment variable with a default that makes the
one-machine demo work (SQLite, a file-system broker, the simulated Smartcar
platform). With DEBUG off — production — secrets must be given explicitly, and a
missing or malformed variable stops start-up with one line that names it.
The README lists every variable.
"""

import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONCE, NONE, SELF

from fleet import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.string("FLEET_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.boolean("DEBUG", False)


def _demo_secret(filename: str, make) -> str:
    """A secret generated once for the demo and kept under var/."""
    path = VAR_DIR / filename
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env.string("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = _demo_secret("secret_key", lambda: secrets.token_urlsafe(50))
    else:
        env.require("SECRET_KEY", "", "when DEBUG is off (production)")

ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    env.require("ALLOWED_HOSTS", "", "when DEBUG is off (production): the host names this site answers to")
CSRF_TRUSTED_ORIGINS = env.listing("CSRF_TRUSTED_ORIGINS")

# --- Smartcar ---------------------------------------------------------------------------------
# simulated: the embedded simulator (../simulator) answers every Smartcar call; live: the real API.
SMARTCAR_MODE = env.choice("SMARTCAR_MODE", ("simulated", "live"), "simulated")
SIMULATED = SMARTCAR_MODE == "simulated"

if SIMULATED:
    # Where the app reaches the simulator. Empty: in-process through httpx's WSGI transport (still
    # a full HTTP request through Django); set it to a URL to use a simulator served elsewhere.
    SMARTCAR_SIMULATOR_ORIGIN = env.string("SMARTCAR_SIMULATOR_ORIGIN").rstrip("/")
    _sim = SMARTCAR_SIMULATOR_ORIGIN or "http://localhost"
    if not SMARTCAR_SIMULATOR_ORIGIN and "localhost" not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
        # The in-process simulator is addressed as localhost (connect/transport.py): it must be answered in production
        # too, or every simulated call (sync, Connect, `manage.py demo`) is refused as a disallowed host.
        ALLOWED_HOSTS.append("localhost")
    _defaults = {
        "SMARTCAR_API_URL": f"{_sim}/simulator/api/v2.0",
        "SMARTCAR_AUTH_URL": f"{_sim}/simulator/oauth/token",
        "SMARTCAR_CONNECT_URL": f"{SMARTCAR_SIMULATOR_ORIGIN}/simulator/connect/oauth/authorize",
        "SMARTCAR_MANAGEMENT_URL": f"{_sim}/simulator/management/v2.0",
        "SMARTCAR_IAM_URL": f"{_sim}/simulator/iam/oauth2/token",
        "SMARTCAR_VEHICLE_API_URL": f"{_sim}/simulator/vehicle/v3",
        "SMARTCAR_MANAGEMENT_API_URL": f"{_sim}/simulator/management-api/v3",
        "SMARTCAR_CLIENT_ID": "fleet-demo-client",
        # The demo's own address: the port the web server listens on (PORT, as gunicorn.conf.py binds it), so that
        # `make run PORT=8080` gets the simulated Connect's redirect back on 8080.
        "SMARTCAR_REDIRECT_URI": f"http://127.0.0.1:{env.integer('PORT', 8000)}/connect/callback/",
    }
    if DEBUG:
        # Published here, so good for the demo only: with DEBUG off both must be given (see _PUBLIC_DEMO_SECRETS).
        _defaults |= {
            "SMARTCAR_CLIENT_SECRET": "fleet-demo-secret",
            "SMARTCAR_MANAGEMENT_TOKEN": "fleet-demo-management-token",
        }
else:
    SMARTCAR_SIMULATOR_ORIGIN = ""
    _defaults = {
        "SMARTCAR_API_URL": "https://api.smartcar.com/v2.0",
        "SMARTCAR_AUTH_URL": "https://auth.smartcar.com/oauth/token",
        "SMARTCAR_CONNECT_URL": "https://connect.smartcar.com/oauth/authorize",
        "SMARTCAR_MANAGEMENT_URL": "https://management.smartcar.com/v2.0",
        # smartcar-api-v3/README.md, "Hosts and auth at a glance"
        "SMARTCAR_IAM_URL": "https://iam.smartcar.com/oauth2/token",
        "SMARTCAR_VEHICLE_API_URL": "https://vehicle.api.smartcar.com/v3",
        "SMARTCAR_MANAGEMENT_API_URL": "https://management.api.smartcar.com/v3",
    }
SMARTCAR_API_URL = env.string("SMARTCAR_API_URL", _defaults["SMARTCAR_API_URL"])
SMARTCAR_AUTH_URL = env.string("SMARTCAR_AUTH_URL", _defaults["SMARTCAR_AUTH_URL"])
SMARTCAR_CONNECT_URL = env.string("SMARTCAR_CONNECT_URL", _defaults["SMARTCAR_CONNECT_URL"])
SMARTCAR_MANAGEMENT_URL = env.string("SMARTCAR_MANAGEMENT_URL", _defaults["SMARTCAR_MANAGEMENT_URL"])
# Which Smartcar API the app speaks: 2.0 (per-user tokens, batch) or 3 (one application token, signals, webhooks
# first). connect/transports.py picks the transport; nothing else in the app asks which one it is.
SMARTCAR_API_VERSION = env.choice("SMARTCAR_API_VERSION", ("2.0", "3"), "2.0")
SMARTCAR_IAM_URL = env.string("SMARTCAR_IAM_URL", _defaults["SMARTCAR_IAM_URL"])
SMARTCAR_VEHICLE_API_URL = env.string("SMARTCAR_VEHICLE_API_URL", _defaults["SMARTCAR_VEHICLE_API_URL"])
SMARTCAR_MANAGEMENT_API_URL = env.string("SMARTCAR_MANAGEMENT_API_URL", _defaults["SMARTCAR_MANAGEMENT_API_URL"])
SMARTCAR_CLIENT_ID = env.string("SMARTCAR_CLIENT_ID", _defaults.get("SMARTCAR_CLIENT_ID", ""))
SMARTCAR_CLIENT_SECRET = env.string("SMARTCAR_CLIENT_SECRET", _defaults.get("SMARTCAR_CLIENT_SECRET", ""))
SMARTCAR_REDIRECT_URI = env.string("SMARTCAR_REDIRECT_URI", _defaults.get("SMARTCAR_REDIRECT_URI", ""))
SMARTCAR_MANAGEMENT_TOKEN = env.string("SMARTCAR_MANAGEMENT_TOKEN", _defaults.get("SMARTCAR_MANAGEMENT_TOKEN", ""))
if not SIMULATED:
    for _name in ("SMARTCAR_CLIENT_ID", "SMARTCAR_CLIENT_SECRET", "SMARTCAR_REDIRECT_URI"):
        env.require(_name, globals()[_name], "when SMARTCAR_MODE is live")
elif not DEBUG:
    # The simulator serves its management API and signs webhook deliveries with these: with a value anyone can read
    # in this repository, an anonymous caller could list, delete and forge every fleet's connections.
    for _name in ("SMARTCAR_CLIENT_SECRET", "SMARTCAR_MANAGEMENT_TOKEN"):
        env.require(_name, globals()[_name], "when DEBUG is off (production), in simulated mode too")
# Webhooks (connect/webhooks.py). The webhook configured for this application in Smartcar's Dashboard: vehicles are
# subscribed to it and its deliveries arrive at /webhooks/<id>/; more can be added in admin. Deliveries are signed
# with SMARTCAR_MANAGEMENT_TOKEN. In the demo (simulated and DEBUG) the simulator registers the same webhook with
# SMARTCAR_WEBHOOK_CALLBACK_URL as its callback, so charging events reach the app without any set-up.
SMARTCAR_WEBHOOK_ID = env.string("SMARTCAR_WEBHOOK_ID", "9b6ae692-60cc-4b3e-89d8-71e7549cf805" if SIMULATED else "")
SMARTCAR_WEBHOOK_CALLBACK_URL = env.string(
    "SMARTCAR_WEBHOOK_CALLBACK_URL", f"/webhooks/{SMARTCAR_WEBHOOK_ID}/" if SIMULATED and DEBUG else ""
)
# Larger deliveries are refused (413) before their signature is even computed.
WEBHOOK_MAX_BODY_BYTES = env.integer("WEBHOOK_MAX_BODY_BYTES", 256 * 1024)
# The "mode" parameter of Connect: live, simulated (Smartcar's own simulated vehicles) or test.
SMARTCAR_CONNECT_MODE = env.choice("SMARTCAR_CONNECT_MODE", ("live", "simulated", "test"), "live")
SMARTCAR_SCOPE = env.listing(
    "SMARTCAR_SCOPE",
    [
        "read_alerts", "read_battery", "read_charge", "read_charge_locations", "read_charge_records",
        "read_charge_events", "read_climate", "read_compass", "read_diagnostics", "read_engine_oil",
        "read_extended_vehicle_info", "read_fuel", "read_location", "read_odometer", "read_security",
        "read_service_history", "read_speedometer", "read_thermometer", "read_tires",
        "read_user_profile", "read_vehicle_info", "read_vin",
        "control_security", "control_charge", "control_climate", "control_trunk",
        "control_navigation", "control_pin",
    ],
)  # fmt: skip

# Timeouts of Smartcar calls: vehicle round trips take up to 300 s (Smartcar's documented ceiling);
# the token and management endpoints answer quickly.
SMARTCAR_VEHICLE_TIMEOUT_SECONDS = env.integer("SMARTCAR_VEHICLE_TIMEOUT_SECONDS", 310)
SMARTCAR_AUTH_TIMEOUT_SECONDS = env.integer("SMARTCAR_AUTH_TIMEOUT_SECONDS", 20)

if SIMULATED and env.string("SIMULATOR_CLOCK_SPEED"):
    # Simulated seconds per real second (simulator/clock.py); unset: the simulator's admin setting.
    try:
        SIMULATOR_CLOCK_SPEED = float(env.string("SIMULATOR_CLOCK_SPEED"))
    except ValueError:
        env.problems.append(f"SIMULATOR_CLOCK_SPEED: expected a number, got {env.string('SIMULATOR_CLOCK_SPEED')!r}")

# Fernet keys that encrypt Smartcar tokens at rest, newest first; older keys still decrypt, so
# keys rotate by prepending a new one and running `manage.py rotate_token_keys`.
TOKEN_ENCRYPTION_KEYS = env.listing("TOKEN_ENCRYPTION_KEYS")
if not TOKEN_ENCRYPTION_KEYS:
    if DEBUG:
        TOKEN_ENCRYPTION_KEYS = [_demo_secret("token_key", lambda: Fernet.generate_key().decode())]
    else:
        env.require("TOKEN_ENCRYPTION_KEYS", "", "when DEBUG is off (production): see README")
for _key in TOKEN_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        env.problems.append("TOKEN_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes")
        break

# Secrets whose demo values are public (this repository, Django's own placeholder): refused with DEBUG off.
_PUBLIC_DEMO_SECRETS = {
    "SECRET_KEY": ("django-insecure",),
    "SMARTCAR_CLIENT_SECRET": ("fleet-demo-secret",),
    "SMARTCAR_MANAGEMENT_TOKEN": ("fleet-demo-management-token",),
}
if not DEBUG:
    for _name, _public in _PUBLIC_DEMO_SECRETS.items():
        _value = globals()[_name] or ""
        if _value and any(_value.startswith(prefix) for prefix in _public):
            env.problems.append(f"{_name}: the demo value is public, set a secret of your own when DEBUG is off")

# --- Django -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_htmx",
    "template_partials",
    "csp",
    "django_guid",
    "fleet",
    "connect",
    "vehicles",
    "charging",
    "maintenance",
    "dashboard",
    "trips",
    "alerts",
]
if SIMULATED:
    INSTALLED_APPS.append("simulator")

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "fleet.invalid_input.reject_invalid_input",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "fleet.middleware.PrivateResponsesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "fleet.urls"
WSGI_APPLICATION = "fleet.wsgi.application"
ASGI_APPLICATION = "fleet.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "fleet.context_processors.fleet_context",
            ],
        },
    },
]

# https://github.com/jazzband/dj-database-url
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env.string("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fleet.sqlite3'}"),
            conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError:  # dj-database-url's errors; the URL itself is not repeated, it may carry a password
    env.problems.append(
        "DATABASE_URL: not a database URL, expected e.g. postgres://user:password@host:5432/name or sqlite:///path"
    )
    DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.integer("DATABASE_POOL_SIZE", 0):
    # A process with many threads (gunicorn gthread, the sync engine's fetch pool) shares a bounded pool of
    # connections instead of keeping one per thread; Django returns a connection to the pool when a request ends.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # pooling replaces persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.integer("DATABASE_POOL_SIZE", 0),
        "timeout": 30,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write at once in the demo: WAL, IMMEDIATE transactions and a busy
    # timeout keep SQLite from answering "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }

# The cache every web process shares: allauth's rate limits (failed logins, password resets) count in it, so they hold
# however many processes and hosts serve the site. redis://… in production; the default, a table in the database,
# needs no server (fleet/migrations/0005_cache_table.py creates it; `manage.py createcachetable` after renaming it).
CACHE_URL = env.string("CACHE_URL", "db://fleet_cache")
_cache_scheme, _, _cache_rest = CACHE_URL.partition("://")
if _cache_scheme in ("redis", "rediss", "unix"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif _cache_scheme == "db" and _cache_rest.strip("/"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": _cache_rest.strip("/")}}
elif _cache_scheme == "locmem" and DEBUG:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    env.problems.append(
        "CACHE_URL: expected redis://host:port/db or db://table"
        + (" (locmem:// is one process's own, so rate limits would not hold)" if _cache_scheme == "locmem" else "")
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "fleet.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.string("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Sync (vehicles/sync/) ---------------------------------------------------------------------
# How often each freshness class of endpoint (vehicles/catalogue.py) is polled, in seconds, per what the vehicle is
# doing. Each value can be overridden by SYNC_INTERVAL_<CLASS>_<ACTIVITY>, e.g. SYNC_INTERVAL_FAST_DRIVING=120.
_sync_interval_defaults = {
    "fast": {"driving": 240, "charging": 300, "parked": 1800, "asleep": 6 * 3600, "unknown": 600},
    "medium": {"driving": 1800, "charging": 1800, "parked": 3 * 3600, "asleep": 12 * 3600, "unknown": 1800},
    "slow": {"driving": 6 * 3600, "charging": 2 * 3600, "parked": 6 * 3600, "asleep": 24 * 3600, "unknown": 6 * 3600},
    "daily": {"driving": 86400, "charging": 86400, "parked": 86400, "asleep": 86400, "unknown": 86400},
}
SYNC_INTERVALS = {
    freshness: {
        activity: env.integer(f"SYNC_INTERVAL_{freshness.upper()}_{activity.upper()}", seconds)
        for activity, seconds in by_activity.items()
    }
    for freshness, by_activity in _sync_interval_defaults.items()
}
# A monthly call budget with room is spent on shorter fast-signal intervals (vehicles/cadence.py), never below this.
# A lower floor spends the room on polling driving vehicles faster; a higher one leaves more of it for parked vehicles,
# whose setting off is then seen sooner, which bought more freshness (docs/benchmarks.md, "Budget").
SYNC_INTERVAL_FLOOR_SECONDS = env.integer("SYNC_INTERVAL_FLOOR_SECONDS", 180)
# Brand limits: calls a vehicle of a make answers a day (Hyundai and Kia about 20, then UPSTREAM:RATE_LIMIT until the
# next day). Its reads are planned within them, fast signals first. Override as SYNC_MAKE_DAILY_CALLS=HYUNDAI:20,KIA:20.
SYNC_MAKE_DAILY_CALLS = {
    make.strip().upper(): int(calls)
    for make, _, calls in (
        item.partition(":") for item in env.listing("SYNC_MAKE_DAILY_CALLS", ["HYUNDAI:20", "KIA:20"])
    )
    if calls.strip().isdigit()
}
# A vehicle subscribed to webhooks gets its events pushed: its polling intervals are multiplied by this factor.
SYNC_WEBHOOK_INTERVAL_FACTOR = env.integer("SYNC_WEBHOOK_INTERVAL_FACTOR", 3)
# Asleep/unreachable back-off: base doubled per consecutive answer, with ±25 % jitter, capped.
SYNC_BACKOFF_BASE_SECONDS = env.integer("SYNC_BACKOFF_BASE_SECONDS", 900)
SYNC_BACKOFF_MAX_SECONDS = env.integer("SYNC_BACKOFF_MAX_SECONDS", 6 * 3600)
# Server-side errors (5xx, UPSTREAM, timeouts): retry after this, doubled per failure with jitter, capped.
SYNC_RETRY_BASE_SECONDS = env.integer("SYNC_RETRY_BASE_SECONDS", 60)
SYNC_RETRY_MAX_SECONDS = env.integer("SYNC_RETRY_MAX_SECONDS", 3600)
# A 501 COMPATIBILITY parks an endpoint of a vehicle for this many days (support may come later).
SYNC_COMPATIBILITY_PARK_DAYS = env.integer("SYNC_COMPATIBILITY_PARK_DAYS", 7)
# A 430 BILLING pauses the fleet's polling this long unless an owner resumes it earlier in admin.
SYNC_BILLING_PAUSE_HOURS = env.integer("SYNC_BILLING_PAUSE_HOURS", 24)
# Dispatch: how often beat looks for due vehicles, how many it leases per look, how many go in one task.
SYNC_DISPATCH_SECONDS = env.integer("SYNC_DISPATCH_SECONDS", 5)
SYNC_DISPATCH_LIMIT = env.integer("SYNC_DISPATCH_LIMIT", 2000)
SYNC_TASK_VEHICLES = env.integer("SYNC_TASK_VEHICLES", 100)
# A round renews its vehicles' lease every quarter of it while it runs; a dead worker's vehicles are due again once it
# passes (then the next dispatch takes them). Longer than a database restart the round should ride out undisturbed.
SYNC_LEASE_SECONDS = env.integer("SYNC_LEASE_SECONDS", 40)
# Vehicles handed to workers may wait this long in the broker's queue before another dispatch may take them.
SYNC_QUEUE_LEASE_SECONDS = env.integer("SYNC_QUEUE_LEASE_SECONDS", 600)
# The longest a round keeps trying to store fetched answers while the database is down (and never past 30 s before
# the task's soft time limit).
SYNC_ROUND_SECONDS = env.integer("SYNC_ROUND_SECONDS", 540)
# Vehicles in flight at once inside one worker process (threads, each with one request outstanding).
SYNC_WORKER_CONCURRENCY = env.integer("SYNC_WORKER_CONCURRENCY", 100)
# History older than this is pruned daily.
SYNC_HISTORY_RETENTION_DAYS = env.integer("SYNC_HISTORY_RETENTION_DAYS", 365)

# --- Accounts (django-allauth) ----------------------------------------------------------------
# https://docs.allauth.org/en/latest/account/configuration.html
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# An address counts once its owner proved they read its mail: sign-in waits for the verification link (an invitation
# link, mailed to the address, proves it as well: fleet/adapters.py). An address is changed, never added beside
# another: the new one replaces the old only once verified, so nobody shows or accepts under an address not theirs.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_ADAPTER = "fleet.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "fleet.forms.SignupForm"}
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# Sign-up is closed: people join a fleet through an owner's invitation, with its address alone (fleet/adapters.py).
FLEET_OPEN_SIGNUP = env.boolean("FLEET_OPEN_SIGNUP", False)

# The console backend prints every message — invitation and password-reset links included — into the server's log:
# the demo's way to read them, refused with DEBUG off, where an SMTP server (or another real backend) sends them.
EMAIL_BACKEND = env.string(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
if not DEBUG and EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
    env.problems.append("EMAIL_BACKEND: the console backend writes one-time links into the log; set a real one")
EMAIL_HOST = env.string("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "Fleet <fleet@localhost>")
# Alert webhooks (alerts/channels.py) to private or local addresses: refused unless the operator allows them.
ALERT_WEBHOOKS_ALLOW_PRIVATE = env.boolean("ALERT_WEBHOOKS_ALLOW_PRIVATE", False)

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", False)
if env.boolean("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Preloading HSTS is a commitment an operator makes for their domain (SECURE_HSTS_PRELOAD).
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# The vehicle page's map (vehicles/views.py): an XYZ tile URL such as
# https://tile.example.org/{z}/{x}/{y}.png and its attribution. Without one the track is drawn on a
# plain background; with one, its origin is allowed as an image source below.
MAP_TILE_URL = env.string("MAP_TILE_URL")
MAP_TILE_ATTRIBUTION = env.string("MAP_TILE_ATTRIBUTION")
_map_origin = "/".join(MAP_TILE_URL.split("/")[:3]) if MAP_TILE_URL.startswith(("https://", "http://")) else ""

# https://django-csp.readthedocs.io/en/latest/configuration.html — everything from our own origin;
# nothing inline but what carries the per-request nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *([_map_origin] if _map_origin else []), *env.listing("CSP_IMG_SRC")],
        "connect-src": [SELF],
        "form-action": [SELF, *env.listing("CSP_FORM_ACTION", ["https://connect.smartcar.com"])],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# --- Celery -----------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env.string("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # With Redis, a task whose ETA lies beyond the visibility timeout is delivered twice; long
    # waits therefore live in the database (next_sync_at), never in the broker. It is also how long
    # a task of a worker that died unacknowledged waits before Redis hands it to another worker; keep
    # it above the task time limit (fleet/celery.py), or a task still running is handed out twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.integer("CELERY_BROKER_VISIBILITY_TIMEOUT", 3600)}
# Workers consume, and tasks are sent to, this queue: installations (or test runs) sharing one
# Redis keep apart by naming their own.
CELERY_TASK_DEFAULT_QUEUE = env.string("CELERY_TASK_DEFAULT_QUEUE", "celery") or "celery"
CELERY_TASK_ALWAYS_EAGER = env.boolean("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
# A vehicle round trip may take up to 300 s (Smartcar's documented ceiling): a task past the soft limit gets an
# exception it can clean up after, past the hard limit it is killed. A command still "sending" after it was sent
# this long ago lost its worker (vehicles/commands.py).
CELERY_TASK_TIME_LIMIT = env.integer("CELERY_TASK_TIME_LIMIT", 660)
CELERY_TASK_SOFT_TIME_LIMIT = max(1, CELERY_TASK_TIME_LIMIT - 60)

# --- Logging ----------------------------------------------------------------------------------
# One line per event on stdout, each with the request id (django-guid) that the response also
# carries in its X-Request-ID header.
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-ID", "RETURN_HEADER": True, "EXPOSE_HEADER": True}
LOG_LEVEL = env.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation_id": {"()": "django_guid.log_filters.CorrelationId"},
        # Invitation tokens, reset keys, OAuth codes and bearer tokens are written as [redacted] (fleet/redaction.py).
        "redact": {"()": "fleet.redaction.RedactSecrets"},
        "forbidden_in_one_line": {"()": "fleet.logfilters.ForbiddenInOneLine"},
    },
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s",
        }
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["correlation_id", "forbidden_in_one_line", "redact"],
            "formatter": "line",
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django_guid": {"level": "WARNING"},
        # httpx logs every request URL at INFO; URLs never carry secrets here, but keep it quiet.
        "httpx": {"level": "WARNING"},
    },
}

# --- Stop here if anything above is wrong -----------------------------------------------------
if env.problems:
    raise SystemExit("Fleet cannot start, configuration error: " + "; ".join(env.problems))
