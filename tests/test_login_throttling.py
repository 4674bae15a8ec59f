"""Login throttling and sign-up limits behind a proxy, and under a flood from many addresses (issue 11, finding 6).

A flood of wrong passwords against one user name slows that name down without locking the real
user out for an hour; limits key on the real client's address, taken from the proxy's header
only when BEHIND_PROXY says there is a proxy, and only from the entry our own proxy wrote.
"""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from monitor.accounts.client import client_address
from tests.factories import AgreementFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hashing_and_a_fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security, here
    from django.core.cache import cache

    cache.clear()  # the run's own Redis (tests/isolation.py): counts from other tests start afresh


@pytest.fixture
def amina():
    user = UserFactory(username="amina", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def attempt(client, password, address, forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("admin:login"), {"username": "amina", "password": password}, **extra)


def logged_in(client):
    return "_auth_user_id" in client.session


def test_a_flood_from_many_addresses_slows_the_name_but_the_real_user_gets_in_after_a_minute(client, amina):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for i in range(30):  # thirty guesses, each from an address of its own: no address is locked
            attempt(client, "wrong", f"198.51.100.{i}")
            clock.shift(timedelta(milliseconds=100))

        # The name is in its wait: even the right password from the user's own address is refused now,
        # with the login form's usual message, which tells the attacker nothing.
        response = attempt(client, PASSWORD, "203.0.113.7")
        assert response.status_code == 200 and not logged_in(client)
        assert "Please enter the correct username and password" in response.content.decode()

        clock.shift(timedelta(seconds=61))  # the longest wait, not AXES_COOLOFF_HOURS
        response = attempt(client, PASSWORD, "203.0.113.7")
        assert response.status_code == 302 and logged_in(client)


def test_a_name_pays_a_wait_that_doubles_with_each_failure_past_the_free_ones(client, amina, settings):
    free = settings.MONITOR_LOGIN_NAME_FREE_FAILURES
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for i in range(free):
            attempt(client, "wrong", f"198.51.100.{i}")
        clock.shift(timedelta(seconds=0.5))  # the next attempt must wait 1 s after the last failure
        attempt(client, PASSWORD, "203.0.113.7")
        assert not logged_in(client)
        clock.shift(timedelta(seconds=0.6))
        attempt(client, "wrong", "198.51.100.99")  # judged, and wrong: now a wait of 2 s
        clock.shift(timedelta(seconds=1.5))
        attempt(client, PASSWORD, "203.0.113.7")
        assert not logged_in(client)
        clock.shift(timedelta(seconds=0.6))
        attempt(client, PASSWORD, "203.0.113.7")
        assert logged_in(client)


def test_failures_under_the_free_count_cost_the_real_user_nothing(client, amina, settings):
    for i in range(settings.MONITOR_LOGIN_NAME_FREE_FAILURES - 1):
        attempt(client, "wrong", f"198.51.100.{i}")
    attempt(client, PASSWORD, "203.0.113.7")
    assert logged_in(client)


def test_one_address_failing_on_many_names_is_locked_out_and_others_are_not(client, amina, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": f"guess{i}", "password": "x"}, REMOTE_ADDR="192.0.2.66")
    assert attempt(client, PASSWORD, "192.0.2.66").status_code == 429
    assert attempt(client, PASSWORD, "203.0.113.7").status_code == 302


# --- the client's address ---------------------------------------------------------------------------


def test_without_a_proxy_a_forwarded_header_is_ignored_so_it_cannot_dodge_the_lockout(client, amina, settings):
    settings.BEHIND_PROXY = False
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("admin:login"), {"username": f"guess{i}", "password": "x"},
            REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
    assert attempt(client, PASSWORD, "192.0.2.66", forwarded="10.9.9.9").status_code == 429


def test_behind_a_proxy_each_client_is_judged_by_the_address_the_proxy_saw(client, amina, settings):
    settings.BEHIND_PROXY = True
    proxy = "10.0.0.1"
    for i in range(settings.AXES_FAILURE_LIMIT):
        # The attacker writes an address of its own choosing in front; the proxy appends the real one.
        client.post(
            reverse("admin:login"), {"username": f"guess{i}", "password": "x"},
            REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 192.0.2.66",
        )
    assert attempt(client, PASSWORD, proxy, forwarded="192.0.2.66").status_code == 429
    # Everyone else, through the same proxy, is not locked out with the attacker.
    assert attempt(client, PASSWORD, proxy, forwarded="203.0.113.7").status_code == 302


@pytest.mark.parametrize(("behind", "hops", "forwarded", "expected"), [
    (False, 1, "203.0.113.7", "10.0.0.1"),
    (True, 1, "203.0.113.7", "203.0.113.7"),
    (True, 1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
    (True, 2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
    (True, 2, "203.0.113.7", "10.0.0.1"),  # fewer entries than proxies: not through them all
    (True, 1, "not-an-address", "10.0.0.1"),
    (True, 1, "", "10.0.0.1"),
])
def test_the_client_address_is_the_entry_our_own_proxies_wrote(rf, settings, behind, hops, forwarded, expected):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXY_HOPS = behind, hops
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_signups_behind_a_proxy_are_limited_per_real_client(client, settings):
    settings.BEHIND_PROXY = True
    settings.MONITOR_SIGNUPS_PER_HOUR = "2"
    AgreementFactory(slug="deal")
    url = reverse("alerts:subscribe", kwargs={"agreement": "deal"})

    def sign_up(real, n):
        return client.post(url, {"email": f"reader{n}@example.org"}, REMOTE_ADDR="10.0.0.1",
                           HTTP_X_FORWARDED_FOR=f"{n}.{n}.{n}.{n}, {real}")

    assert [sign_up("192.0.2.66", n).status_code for n in range(3)] == [200, 200, 429]
    assert sign_up("203.0.113.7", 9).status_code == 200  # another reader behind the same proxy
