"""Outgoing HTTP for plugins: an SSRF guard, and limits on time and response size.

Delivery URLs are typed by agency staff, so they are checked before every request:

- production (``TUMEN_DELIVERY_ALLOW_HTTP`` off) accepts only ``https``; development and tests
  may use ``http`` to loopback;
- the host's addresses must all be public: private, loopback, link-local (cloud metadata at
  169.254.169.254), multicast and reserved ranges are refused, unless the agency is marked
  ``allow_private_endpoints`` (inside the government network) or, for loopback only, plain
  http is allowed (development and tests);
- the connection goes to the address that was checked (no second DNS lookup that could answer
  differently), within one hard deadline for the whole request (``plugins.deadlines``: connect,
  TLS, headers and body; a server trickling its headers is cut off) and a cap on the bytes read
  back.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from . import deadlines

TIMED_OUT = "the endpoint answered too slowly (timed out)"


class BlockedURL(ValueError):
    """The URL may not be called (scheme, address); never retried."""


class HTTPFailure(OSError):
    """The request did not produce a response (refused, reset, timed out, too large)."""


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict
    elapsed_ms: int


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise HTTPFailure(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_url(url: str, *, allow_private: bool = False) -> tuple[str, str, int, str]:
    """``(scheme, host, port, address)`` of an allowed URL; :class:`BlockedURL` otherwise."""
    parts = urlsplit(url)
    allow_http = getattr(settings, "TUMEN_DELIVERY_ALLOW_HTTP", False)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BlockedURL("the URL must be https://host/...")
    if parts.scheme == "http" and not allow_http:
        raise BlockedURL("only https URLs are allowed in production")
    if parts.username or parts.password:
        raise BlockedURL("credentials in the URL are not allowed; use the plugin's options")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedURL("the URL's port is not a valid port number") from None
    addresses = _addresses(parts.hostname, port)
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if _public(ip):
            continue
        if allow_private and not ip.is_multicast and not ip.is_unspecified:
            continue
        if ip.is_loopback and allow_http:
            continue  # development and tests: agency stand-ins on 127.0.0.1
        raise BlockedURL(f"{parts.hostname} resolves to a non-public address ({address})")
    return parts.scheme, parts.hostname, port, addresses[0]


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv6 one (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64 or int(ip) >> 32 == 0:  # NAT64, or the deprecated "::a.b.c.d"
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(ip) -> bool:
    """A global unicast address, also when an IPv4 address is wrapped in an IPv6 one."""
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return False
    inner = _embedded_ipv4(ip)
    return inner is None or _public(inner)


class _Bounded:
    """What both connection classes share: connect within the deadline's remaining time, then put
    the socket under the deadline's watchdog before anything else (the TLS handshake included)."""

    deadline: deadlines.Deadline
    watch = None

    def _open(self, address, port):
        sock = socket.create_connection((address, port), max(0.01, self.deadline.remaining()))
        self._watching = deadlines.watch(sock, self.deadline)
        self.watch = self._watching.__enter__()
        return sock

    def stop_watching(self):
        if self.watch is not None:
            self._watching.__exit__(None, None, None)


class _PinnedHTTPSConnection(_Bounded, http.client.HTTPSConnection):
    """HTTPS to a checked address, with SNI and certificate checks for the host name."""

    def __init__(self, host, address, deadline, **kwargs):
        super().__init__(host, **kwargs)
        self._address, self.deadline = address, deadline

    def connect(self):
        sock = self._open(self._address, self.port)
        sock.settimeout(max(0.01, self.deadline.remaining()))
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(_Bounded, http.client.HTTPConnection):
    def __init__(self, host, address, deadline, **kwargs):
        super().__init__(host, **kwargs)
        self._address, self.deadline = address, deadline

    def connect(self):
        self.sock = self._open(self._address, self.port)


def request(method: str, url: str, *, body: bytes = b"", headers: dict | None = None, timeout: float | None = None,
            max_bytes: int | None = None, allow_private: bool = False) -> Response:  # fmt: skip
    """One HTTP request within the limits; raises :class:`BlockedURL` or :class:`HTTPFailure`.

    ``timeout`` is one hard deadline for the whole request (connect, TLS, sending, headers and
    body; ``plugins.deadlines``), cut down to the caller's ambient cap (a delivery's lease).
    """
    timeout = deadlines.limit(timeout or settings.TUMEN_DELIVERY_TIMEOUT)
    max_bytes = max_bytes or settings.TUMEN_DELIVERY_MAX_RESPONSE_BYTES
    started = time.monotonic()
    deadline = deadlines.Deadline(timeout)
    scheme, host, port, address = check_url(url, allow_private=allow_private)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    per_phase = max(0.01, deadline.remaining())
    if scheme == "https":
        connection = _PinnedHTTPSConnection(host, address, deadline, port=port, timeout=per_phase,
                                            context=ssl.create_default_context())  # fmt: skip
    else:
        connection = _PinnedHTTPConnection(host, address, deadline, port=port, timeout=per_phase)
    try:
        connection.request(method, path, body=body, headers={"User-Agent": "Tumen-Delivery/1", **(headers or {})})
        if connection.sock is not None:
            connection.sock.settimeout(max(0.01, deadline.remaining()))
        response = connection.getresponse()
        data = bytearray()
        # Read in small pieces against the same deadline; the watchdog covers a server that
        # trickles bytes (each read would otherwise wait a fresh socket timeout).
        while True:
            if deadline.expired:
                raise HTTPFailure(TIMED_OUT)
            if connection.sock is not None:
                connection.sock.settimeout(max(0.01, deadline.remaining()))
            chunk = response.read1(min(16384, max_bytes + 1 - len(data))) if method != "HEAD" else b""
            if not chunk:
                break
            data += chunk
            if len(data) > max_bytes:
                raise HTTPFailure(f"the response is larger than {max_bytes} bytes")
        if connection.watch is not None and connection.watch.fired:
            raise HTTPFailure(TIMED_OUT)  # the end of the body was the watchdog's shutdown
        return Response(
            status=response.status,
            body=bytes(data),
            headers={key.lower(): value for key, value in response.getheaders()},
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )
    except (OSError, http.client.HTTPException, ValueError) as error:
        if isinstance(error, HTTPFailure):
            raise
        if deadline.expired or (connection.watch is not None and connection.watch.fired):
            raise HTTPFailure(TIMED_OUT) from None
        raise HTTPFailure(f"{type(error).__name__}: {error}") from None
    finally:
        connection.stop_watching()
        connection.close()
