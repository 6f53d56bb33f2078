"""The environments of the paper, one package each, and the registry from name to domain class.

Adding an environment is one package under ``gamps/domains/`` with a ``Domain`` subclass, plus
one line in ``REGISTRY`` (or a call to ``register`` from outside the package).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Domain, MonteCarloQDomain
from .gridworld import GridworldDomain
from .minigolf import MinigolfDomain
from .swimmer import SwimmerDomain

__all__ = ["DOMAIN_KEYS", "REGISTRY", "Domain", "MonteCarloQDomain", "make_domain", "register"]

#: Environment name -> domain class, in the order of the figures and the report.
REGISTRY: dict[str, type[Domain[Any]]] = {
    "gridworld": GridworldDomain,
    "minigolf": MinigolfDomain,
    "swimmer": SwimmerDomain,
}


def register(cls: type[Domain[Any]], name: str | None = None) -> type[Domain[Any]]:
    """Add a domain class to the registry under ``name`` (default: ``cls.name``)."""
    if not (isinstance(cls, type) and issubclass(cls, Domain)):
        raise TypeError(f"{cls!r} is not a subclass of gamps.domains.Domain")
    REGISTRY[name or cls.name] = cls
    return cls


def domain_class(name: str) -> type[Domain[Any]]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown environment {name!r}; choose from {list(REGISTRY)}") from None


def make_domain(name: str, params: Mapping | None = None) -> Domain[Any]:
    """Build a domain from its name and its config keys (the class defaults for missing ones)."""
    return domain_class(name)(**dict(params or {}))


class _DomainKeys(Mapping[str, tuple[str, ...]]):
    """Environment name -> the config keys that define its domain (a live view of REGISTRY)."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return REGISTRY[name].config_keys()

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


DOMAIN_KEYS: Mapping[str, tuple[str, ...]] = _DomainKeys()
