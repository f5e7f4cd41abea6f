"""The public web pages: a live page per challenge, an embeddable widget, open data by area
and a health check (aiohttp; templates and static files ship inside this package)."""

from bots.web.app import create_app
from bots.web.live import LiveConfig
from bots.web.server import WebServer, serve_web, web_server

__all__ = ["LiveConfig", "WebServer", "create_app", "serve_web", "web_server"]
