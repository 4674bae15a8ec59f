import pytest


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # Production defaults redirect to HTTPS; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
