"""Headers every aiohttp server of ours sends."""

from __future__ import annotations

from aiohttp import web

SERVER_NAME = "climat-koom"


async def hide_server_version(request: web.Request, response: web.StreamResponse) -> None:
    """Name no software version in the `Server` header (aiohttp's default names its own)."""
    response.headers["Server"] = SERVER_NAME
