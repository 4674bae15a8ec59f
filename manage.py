#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        # Django's own hint: the usual cause is running outside .venv (use .venv/bin/python manage.py).
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
