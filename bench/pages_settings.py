"""The product's settings, served over plain HTTP on 127.0.0.1 with the benchmark's extra URL.

Used only by bench/pages.py's gunicorn: the product's URLs never include the bare view.
"""

import warnings

from monitor.settings import *  # noqa: F403

ROOT_URLCONF = "bench.pages_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# wrk speaks plain HTTP to a local port: no HTTPS redirect.
SECURE_SSL_REDIRECT = False
# The manifest storage needs `collectstatic`; the pages only name their stylesheet, the same either way.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

# whitenoise warns on every worker start that `collectstatic` has not run; the pages do not need it here.
warnings.filterwarnings("ignore", message="No directory at")
