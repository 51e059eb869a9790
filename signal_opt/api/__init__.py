"""HTTP API of the retiming service: ``create_app(settings)`` builds it."""

from signal_opt.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
