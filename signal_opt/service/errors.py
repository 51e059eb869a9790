"""Errors a caller can fix; the API maps each to one 4xx status in one place."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Conflict", "InvalidInput", "NotFound", "ServiceError"]


class ServiceError(Exception):
    """An error the caller can fix; ``loc`` names the offending input."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class InvalidInput(ServiceError):
    """422: the request names something that does not exist or holds a bad value.

    ``more`` lists further problems of the same request (a batch with several bad rows):
    ``(loc, message)`` each; the API answers all of them."""

    def __init__(
        self,
        message: str,
        loc: tuple[str | int, ...] = (),
        more: Sequence[tuple[tuple[str | int, ...], str]] | None = None,
    ) -> None:
        super().__init__(message, loc)
        self.more = list(more or [])


class NotFound(ServiceError):
    """404: an unknown network, intersection, version..."""


class Conflict(ServiceError):
    """409: the request clashes with what is stored."""
