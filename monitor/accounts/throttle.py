"""Failed logins against one user name, from anywhere, slow that name down; they never lock it out.

django-axes locks out an *address* after AXES_FAILURE_LIMIT failures (for AXES_COOLOFF_HOURS).
An attacker with many addresses would pass under that, so failures are also counted per user
name: past MONITOR_LOGIN_NAME_FREE_FAILURES of them within MONITOR_LOGIN_NAME_WINDOW_SECONDS, each
attempt on that name must wait twice as long after the last failure as the one before, up to
MONITOR_LOGIN_NAME_MAX_DELAY_SECONDS. A flood thus costs the attacker time per guess, while the
real user, from an address that is not locked, waits a minute at most, never an hour.

The count lives in the cache (shared by every web process); if the cache is down, logins are
judged by the password and axes alone.
"""

import hashlib

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils import timezone


def _key(username):
    # Hashed: user names (often emails) are not stored in clear in the cache.
    return "login-name:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def wait_seconds(failures):
    """How long after the last failure the next attempt on a name must wait."""
    free = settings.MONITOR_LOGIN_NAME_FREE_FAILURES
    if failures < free:
        return 0
    return min(settings.MONITOR_LOGIN_NAME_MAX_DELAY_SECONDS, 2 ** (failures - free))


def _read(username):
    try:
        return cache.get(_key(username)) or (0, 0.0)
    except Exception:  # noqa: BLE001 - a cache outage must not stop every login
        return 0, 0.0


class NameThrottleBackend:
    """First among the authentication backends: refuses an attempt on a name still in its wait.

    PermissionDenied stops Django from asking the other backends, and the login form answers with
    its usual "enter a correct username and password", so the refusal tells an attacker nothing.
    """

    def authenticate(self, request, username=None, **kwargs):
        if not username:
            return None
        failures, last = _read(username)
        if timezone.now().timestamp() < last + wait_seconds(failures):
            if request is not None:
                request.login_throttled = True  # not counted as another failure
            raise PermissionDenied("too many failed attempts on this user name; wait and try again")
        return None

    # No get_user(): this backend never logs anyone in, and Django's test client (force_login) and
    # session loading take the first backend that has one.


@receiver(user_login_failed, dispatch_uid="accounts.count_failures_per_name")
def _count_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if not username or getattr(request, "login_throttled", False):
        return
    # Read, then written: two failures at the same instant may count as one. That lets an attacker
    # one more guess now and then, which is cheaper than a lock around every failed login.
    failures, _last = _read(username)
    try:
        cache.set(
            _key(username), (failures + 1, timezone.now().timestamp()), settings.MONITOR_LOGIN_NAME_WINDOW_SECONDS
        )
    except Exception:  # noqa: BLE001 - see _read
        pass


@receiver(user_logged_in, dispatch_uid="accounts.forget_failures_per_name")
def _forget(sender, request, user, **kwargs):
    """A successful login starts the name's count afresh."""
    try:
        cache.delete(_key(user.get_username()))
    except Exception:  # noqa: BLE001 - see _read
        pass
