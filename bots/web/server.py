"""Run the web app: on its own (`koom web`) or beside the bots (`koom run` with KOOM_WEB_PORT)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from aiohttp import web

from bots.resources import prepare_process
from bots.web.app import create_app
from bots.web.live import LiveConfig
from core.app import open_services
from core.errors import port_taken
from core.i18n import Translator
from core.services import Services
from core.settings import Settings

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 5.0


class WebServer:
    """The web app listening on `host:port` (port 0: any free port, see `port`)."""

    def __init__(
        self, services: Services, host: str, port: int, config: LiveConfig | None = None
    ) -> None:
        self.services = services
        self.host = host
        self.requested_port = port
        self.config = config
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; returns once the socket is open (OSError when the port is taken)."""
        app = create_app(self.services, self.config)
        # No access log: it would keep readers' addresses, which the project never stores.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    @property
    def port(self) -> int:
        """The port actually listened on."""
        assert self._runner is not None, "not started"
        address = self._runner.addresses[0]
        return int(address[1])

    @property
    def url(self) -> str:
        """The base URL, for people and tests."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Close the live streams and the socket."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


@asynccontextmanager
async def web_server(services: Services) -> AsyncIterator[WebServer | None]:
    """The web app beside the bots while the block runs, when KOOM_WEB_PORT is set."""
    settings = services.settings
    if settings.web_port is None:
        yield None
        return
    server = WebServer(services, settings.web_host, settings.web_port)
    try:
        await server.start()
    except OSError as exc:
        raise port_taken("KOOM_WEB_PORT", settings.web_port, exc) from exc
    log.info("web pages on %s", server.url)
    try:
        yield server
    finally:
        await server.stop()


async def serve_web(
    settings: Settings, host: str, port: int, t: Translator, err: TextIO | None = None
) -> int:
    """`koom web`: serve the pages until Ctrl-C or SIGTERM; the exit status."""
    err = err or sys.stderr
    prepare_process(asyncio.get_running_loop())
    services = await open_services(settings)
    try:
        server = WebServer(services, host, port)
        try:
            await server.start()
        except OSError as exc:
            print(t("web.cli.cannot_listen", host=host, port=str(port), problem=str(exc)), file=err)
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(t("web.cli.serving", url=server.url), file=err, flush=True)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await server.stop()
        return 0
    finally:
        await services.db.dispose()
