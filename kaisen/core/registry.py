"""One handler that a higher layer hands to a lower one (docs/decisions/0006-layers.md).

A lower app that must trigger higher work declares a :class:`Slot`; the higher app fills it in its
``AppConfig.ready()``. Reading an empty slot fails loudly with the slot's own explanation: a login must never
skip its second step, an approval never do nothing.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class Slot(Generic[T]):
    def __init__(self, missing: str) -> None:
        self._missing = missing
        self._value: T | None = None

    def register(self, value: T) -> None:
        """Called once when Django starts (a second call replaces the first)."""
        self._value = value

    def get(self) -> T:
        if self._value is None:
            raise ImproperlyConfigured(self._missing)
        return self._value

    def get_or(self, default: T) -> T:
        """The registered value, or ``default`` when none is (a slot with a sensible fallback)."""
        return default if self._value is None else self._value


class Providers(Generic[T]):
    """Named handlers several higher apps may add to (the fees billed on an invoice, a plan's price label)."""

    def __init__(self) -> None:
        self._providers: dict[str, T] = {}

    def register(self, name: str, provider: T) -> None:
        """Add (or replace) the provider called ``name``."""
        self._providers[name] = provider

    def all(self) -> list[T]:
        return list(self._providers.values())
