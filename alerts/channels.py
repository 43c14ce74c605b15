"""Where alerts may be sent: webhook URLs checked against the app itself and private networks, and the signature
a receiver checks."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from django.conf import settings

SIGNATURE_HEADER = "X-Fleet-Signature"
TIMESTAMP_HEADER = "X-Fleet-Timestamp"
DELIVERY_HEADER = "X-Fleet-Delivery"


class RefusedURL(ValueError):
    pass


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret, hex: the receiver computes the same and compares
    (in constant time), and refuses old timestamps to stop replays."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def url_check(url: str) -> None:
    """Raises RefusedURL, in a manager's words, for a URL alerts must not be sent to.

    Checked when the endpoint is saved and again before every delivery (a name may point elsewhere later).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURL("Enter a web address starting with https:// (or http://).")
    host = parts.hostname.lower().rstrip(".")
    if _is_self(host):
        raise RefusedURL("This address is Fleet itself; enter the address of the system that should receive alerts.")
    if getattr(settings, "ALERT_WEBHOOKS_ALLOW_PRIVATE", False):
        return
    for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
        if not address.is_global:
            raise RefusedURL(
                "This address is on a private or local network, which this installation does not send alerts to."
            )


def _is_self(host: str) -> bool:
    """A name this site answers to (ALLOWED_HOSTS, without wildcards): the app would be calling itself."""
    for allowed in settings.ALLOWED_HOSTS:
        allowed = allowed.lower()
        if allowed in ("*", "") or _is_ip(allowed):
            continue  # addresses are the private-network check's to judge
        if host == allowed.lstrip(".") or (allowed.startswith(".") and host.endswith(allowed)):
            return True
    return False


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _addresses(host: str, port: int) -> list:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise RefusedURL("This address's host name does not resolve; check it for typing errors.") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
