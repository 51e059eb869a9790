"""API documentation pages served from the installed packages: Swagger UI at ``/docs`` and
ReDoc at ``/redoc``, their scripts and styles under ``/docs-static`` (the files
``fastapi-offline`` ships), so the pages work in a control room without internet. No font
or script is fetched from a CDN."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC", "install_docs"]

STATIC = Path(fastapi_offline.__file__).with_name("static")
PREFIX = "/docs-static"


def install_docs(app: FastAPI) -> None:
    """``/docs``, ``/redoc`` and their files (the app is made with ``docs_url=None``)."""
    app.mount(PREFIX, StaticFiles(directory=STATIC), name="docs-static")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title}: API",
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title}: API",
            redoc_js_url=f"{PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/favicon.png",
            with_google_fonts=False,
        )
