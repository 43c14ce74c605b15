"""gunicorn's configuration: the one place the web server is set up (`gunicorn fleet.wsgi` reads it from here).

Every value can be overridden on the command line (e.g. ``--bind 0.0.0.0:8000``).
"""

import importlib
import os

# Settings are read here, once, in the master process before any worker starts: a configuration error stops gunicorn
# with the settings' one-line message and a non-zero status, instead of every worker failing on start and being
# respawned for ever with the port bound.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleet.settings")
importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])

bind = [f"127.0.0.1:{os.environ.get('PORT') or 8000}"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("WEB_THREADS") or 8)

# One line per request on stdout (WEB_ACCESS_LOG: another file, or empty for none): the path without its query string
# (the Connect callback's carries a one-time code), with control characters escaped and secrets redacted by the logger.
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
logger_class = "fleet.gunicorn_logging.Logger"

# X-Forwarded-* headers (the scheme a proxy received) are trusted from these addresses only; none unless the
# installation names its proxy. gunicorn's own default would trust 127.0.0.1, i.e. anything on this machine.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")

# No control socket: gunicorn's default is one shared path in the home directory (~/.gunicorn/gunicorn.ctl), which two
# servers of one user would fight over, and which nothing here uses.
control_socket_disable = True
