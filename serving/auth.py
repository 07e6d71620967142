"""API keys with roles: who is calling, and whether that role may call a route.

A key maps to one role: ``service`` (feed services: every user and item route), ``admin``
(everything) or ``merchant:<merchant_id>`` (a merchant's own routes, none of the service ones).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SERVICE = "service"
    MERCHANT = "merchant"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The caller a key stands for; `merchant_id` only for the merchant role."""

    role: Role
    merchant_id: str | None = None


def parse_role(text: str) -> Principal:
    """`"service"`, `"admin"` or `"merchant:<merchant_id>"`; ValueError for anything else."""
    name, sep, arg = text.partition(":")
    if name == Role.MERCHANT and sep and arg.strip() == arg and arg:
        return Principal(Role.MERCHANT, arg)
    if not sep and name in (Role.SERVICE, Role.ADMIN):
        return Principal(Role(name))
    raise ValueError(f"role {text!r} is not one of 'service', 'admin', 'merchant:<merchant_id>'")


class KeyRing:
    """The configured keys; looks a presented key up in constant time per stored key."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = [(key.encode(), parse_role(role)) for key, role in keys.items()]

    def __len__(self) -> int:
        return len(self._keys)

    def principal(self, presented: str | None) -> Principal | None:
        """The principal of `presented`, or None when it is missing or matches no key."""
        if not presented:
            return None
        given = presented.encode()
        found = None
        for key, principal in self._keys:
            # Compare with every key so the time taken does not tell which prefix matched.
            if hmac.compare_digest(key, given):
                found = principal
        return found
