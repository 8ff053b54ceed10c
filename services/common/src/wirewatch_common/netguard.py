"""Which addresses a service may connect to on someone else's word: no server-side request forgery.

Feed URLs (ingest) and webhook URLs (alerts) are written by users, so the host they name is
resolved once, every address it resolves to is checked, and the connection goes to a checked
address (never a second lookup that a rebinding DNS server could answer differently). Loopback,
private, link-local, shared (CGNAT), multicast, unspecified, reserved and other non-global
addresses are refused unless a setting allows them: all of them (`allow_private`) or named networks
(`allowed_networks`, e.g. an internal server's subnet). `AddressPolicy.resolve` is the address
policy that `wirewatch_common.fetch.bounded_get` and `bounded_post` call for every connection; it
raises that module's AddressRefused, whose message names the settings that would allow the address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .fetch import AddressRefused as AddressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]


def is_public(address: IPAddress) -> bool:
    """Tell a globally routable unicast address from every kind that could reach inside the network."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if mapped is not None and not is_public(mapped):
            return False  # ::ffff:10.0.0.1 and friends reach the IPv4 address they embed
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host (TCP), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """Addresses a service may connect to: public ones, plus what the settings allow."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    settings_hint: str = field(default="", compare=False)
    """The settings that allow more, named in a refusal (e.g. `WIREWATCH_INGEST_FEED_ALLOW_PRIVATE`)."""

    def permits(self, address: IPAddress) -> bool:
        """Tell whether a connection to this address is allowed."""
        if self.allow_private or is_public(address):
            return True
        return any(address.version == net.version and address in net for net in self.allowed_networks)

    def resolve(self, host: str, port: int, resolver: Resolver = system_resolver) -> list[str]:
        """Resolve a host and return its addresses, or raise AddressRefused if any of them is forbidden.

        Every address must pass, not just the first: a name that resolves to a public and a
        private address could otherwise be steered to the private one on the next connection.
        """
        literal = host.strip("[]")
        try:
            addresses = [str(ipaddress.ip_address(literal))]
        except ValueError:
            try:
                addresses = list(resolver(host, port))
            except (OSError, UnicodeError) as exc:
                msg = f"cannot resolve {host!r}: {exc}"
                raise AddressRefused(msg) from exc
        if not addresses:
            msg = f"{host!r} resolves to no address"
            raise AddressRefused(msg)
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not self.permits(address):
                allow = f" (allow it with {self.settings_hint})" if self.settings_hint else ""
                msg = (
                    f"refused {host!r}: it resolves to {address}, a loopback, private, link-local, multicast"
                    f" or reserved address{allow}"
                )
                raise AddressRefused(msg)
        return addresses
