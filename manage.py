#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleet.settings")
    if "SECRET_KEY" not in os.environ and "SECRET_KEY_FILE" not in os.environ:
        # Nothing configured: this is a developer's checkout running the local demo. Web servers
        # (fleet.wsgi, fleet.asgi) have no such default and refuse to start unconfigured.
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
