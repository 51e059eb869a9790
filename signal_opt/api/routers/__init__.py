"""One router per resource, each under ``/v1`` (the prefix is in each router, so that the
route templates the metrics label requests with carry it too)."""

API_PREFIX = "/v1"
