"""python-telegram-bot's HTTP calls over aiohttp's client.

httpx's pool (python-telegram-bot's default) checks every pooled connection's socket at each
request and response: under load that bookkeeping cost more CPU than the rest of the call. aiohttp's
connector keeps idle connections per host in a queue and parses responses in C. Parameters go
as a JSON body (form encoding quoted every character in Python), files as a multipart form.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_SIZE = 256
"""Connections kept at most (python-telegram-bot's default for HTTPXRequest)."""
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` with python-telegram-bot's default timeouts; proxies from the
    environment (HTTPS_PROXY) as with httpx."""

    __slots__ = ("_pool_size", "_session")

    def __init__(self, pool_size: int = POOL_SIZE) -> None:
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return READ_TIMEOUT

    async def initialize(self) -> None:
        """Open the session (again after `shutdown`)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                trust_env=True,
                skip_auto_headers=("Accept-Encoding",),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make the call; TimedOut or NetworkError when it did not get an answer."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        pool = _given(pool_timeout, POOL_TIMEOUT)
        connect = _given(connect_timeout, CONNECT_TIMEOUT)
        write = _given(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        read = _given(read_timeout, READ_TIMEOUT)
        timeout = aiohttp.ClientTimeout(
            total=_sum(pool, connect, write, read), connect=_sum(pool, connect), sock_read=read
        )
        try:
            async with session.request(
                method, url, timeout=timeout, **_body(request_data, files)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error


def _given(value: ODVInput[float], default: float) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*seconds: float | None) -> float | None:
    """A sum of timeouts; none when one of them is none (no limit)."""
    return None if any(s is None for s in seconds) else sum(s for s in seconds if s is not None)


def _body(request_data: RequestData | None, files: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters as JSON (Telegram reads it, and it costs a fraction of form encoding);
    with files, a multipart form."""
    if request_data is None:
        return {}
    if not files:
        return {"json": request_data.parameters}
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return {"data": form}
