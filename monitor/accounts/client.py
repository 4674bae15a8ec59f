"""Who is asking: the client's address, the same for login throttling, sign-up and render limits.

Behind a reverse proxy every request comes from the proxy's address, so per-address limits would
throttle everyone at once, and one attacker would lock every user out. The proxy says who its
client was in X-Forwarded-For; but a client can send that header too, with anything in it. So it
is read only when BEHIND_PROXY is set, and only the address our own proxies added: each proxy
appends the address it received the request from, so with TRUSTED_PROXY_HOPS proxies in front of
us the client is that many places from the right, and whatever lies to its left the client wrote.
"""

import ipaddress

from django.conf import settings


def client_address(request):
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.BEHIND_PROXY:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    hops = settings.TRUSTED_PROXY_HOPS
    if len(forwarded) < hops:
        return remote  # not through all of our proxies: a direct connection, judged by its own address
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote  # a proxy of ours never writes this: something is misconfigured, so do not trust it
