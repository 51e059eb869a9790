"""Cursor paging of history listings: the body stays a JSON array, newest first; when
there may be more, the response says where the next page starts (``X-Next-Cursor`` and a
``Link: <...>; rel="next"`` header). The cursor is opaque to clients (today: the id or
version of the last item; pass it back as ``?cursor=``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from signal_opt.api.schemas import MAX_ID

__all__ = ["NEXT_HEADERS", "Cursor", "Limit", "set_next"]

Cursor = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="From the `X-Next-Cursor` header of the previous page."),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]

NEXT_HEADERS: dict[str, Any] = {
    "X-Next-Cursor": {
        "description": "Cursor of the next page (absent on the last page).",
        "schema": {"type": "string"},
    },
    "Link": {"description": '`<url>; rel="next"`: the next page.', "schema": {"type": "string"}},
}
"""OpenAPI ``headers`` of a paged 200 response."""


def set_next(request: Request, response: Response, n: int, limit: int, last: int | None) -> None:
    """Point ``response`` at the page after the one of ``n`` items ending at ``last``."""
    if n < limit or last is None or last <= 1:
        return
    response.headers["X-Next-Cursor"] = str(last)
    url = request.url.remove_query_params("offset").include_query_params(cursor=last)
    response.headers["Link"] = f'<{url}>; rel="next"'
