"""This machine's network interfaces: the LAN addresses a node announces and listens on.

A node on the LAN listens on every address (one dual-stack socket where IPv6 exists, so one
port serves both families) and uses zeroconf on every non-loopback interface that is up and
can multicast. Interfaces come and go (Wi-Fi reconnecting), so callers ask again from time to
time (:data:`sync.const.INTERFACE_CHECK_S`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

import ifaddr

#: The listen address meaning "every address of this machine, both families".
ANY_HOST = "::"
_ANY = ("", "::", "*")
_IFF_UP, _IFF_LOOPBACK, _IFF_MULTICAST = 0x1, 0x8, 0x1000
_IFA_F_DADFAILED, _IFA_F_TENTATIVE = 0x08, 0x40


@dataclass(frozen=True, slots=True)
class LanInterfaces:
    """The usable LAN interfaces: what zeroconf binds to and which addresses a peer can use."""

    #: zeroconf's interface list: IPv4 addresses and ``((ipv6, flow, scope), index)`` entries.
    zeroconf: tuple[str | tuple[tuple[str, int, int], int], ...]
    #: addresses another device can dial (IPv4, then global IPv6; never link-local or loopback).
    addresses: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.zeroconf)


def _flags(name: str) -> int | None:
    """The interface's flags (Linux), or None where the system does not say."""
    try:
        return int((Path("/sys/class/net") / name / "flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def _unusable_ipv6() -> set[str]:
    """IPv6 addresses still checked for duplicates (or found duplicate): none can be bound yet
    (Linux; elsewhere none are known). They are picked up at the next check once usable."""
    unusable: set[str] = set()
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return unusable
    for line in lines:
        fields = line.split()
        if len(fields) >= 5 and int(fields[4], 16) & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED):
            unusable.add(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return unusable


def lan_interfaces() -> LanInterfaces:
    """Every non-loopback interface that is up and can multicast, with its addresses."""
    unusable = _unusable_ipv6()
    zeroconf: list[str | tuple[tuple[str, int, int], int]] = []
    v4: list[str] = []
    v6: list[str] = []
    for adapter in ifaddr.get_adapters():
        flags = _flags(adapter.name)
        if flags is not None and (not flags & _IFF_UP or flags & _IFF_LOOPBACK or not flags & _IFF_MULTICAST):
            continue
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                if ipaddress.ip_address(ip.ip).is_loopback:
                    continue
                zeroconf.append(ip.ip)
                v4.append(ip.ip)
            else:
                address = ipaddress.ip_address(ip.ip[0])
                if address.is_loopback or str(address) in unusable:
                    continue
                zeroconf.append(((ip.ip[0], ip.ip[1], ip.ip[2]), adapter.index or 0))
                if not address.is_link_local:
                    v6.append(ip.ip[0])
    return LanInterfaces(tuple(sorted(set(zeroconf), key=str)), tuple(sorted(set(v4)) + sorted(set(v6))))


def is_any(host: str) -> bool:
    """Whether ``host`` means every address (``::``, ``0.0.0.0``, empty)."""
    return host in _ANY or host == "0.0.0.0"


def usable_addresses(host: str) -> list[str]:
    """Addresses a peer can dial to reach a listener bound to ``host`` (never a wildcard)."""
    if not is_any(host):
        return [host]
    addresses = list(lan_interfaces().addresses)
    if host == "0.0.0.0":
        addresses = [a for a in addresses if ":" not in a]
    return addresses


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound, non-blocking TCP socket for ``host:port``, ready for ``create_server(sock=...)``.

    ``::`` (or empty) binds every address of both families on one port (a dual-stack socket),
    falling back to IPv4 where the system has no IPv6.

    Raises:
        OSError: the address cannot be bound (in use, not on this machine).
    """
    if host in _ANY:
        try:
            return _bound(socket.AF_INET6, ("::", port), dual=True)
        except OSError:
            host = "0.0.0.0"
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    return _bound(family, address, dual=False)


def _bound(family: int, address: tuple[object, ...], *, dual: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
        sock.bind(address)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
