"""The public web pages (aiohttp): a page per challenge that updates live, an embeddable
widget, open data by area (CSV and GeoJSON, never an area under the minimum count), the
country outlines of the map and the names of its largest places, and `/healthz`.

Everything is read-only: only GET (and HEAD) is answered, anything else gets 405, and no
request writes to the database. Every answer carries security headers: a Content-Security-
Policy allowing only our own scripts and styles, and no framing except the widget's.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text

from bots.http_headers import hide_server_version
from bots.resources import Throttle
from bots.web import health, sharing, views
from bots.web.live import LiveConfig, LiveHub, Snapshot, Watch
from bots.web.logos import read_logo
from bots.web.outlines import OutlineCache, parse_bbox, places, warm_up
from bots.web.streams import StreamGate
from conversations.deeplinks import parse_join, parse_payload
from core.drafts import SLUG_PATTERN
from core.errors import NotFound
from core.i18n import SUPPORTED_LOCALES, Translator
from core.services import Services
from core.services.organisations import SLUG as ORG_SLUG
from core.services.organisations import Organisation
from core.services.progress import progress_of

log = logging.getLogger(__name__)

ALLOWED = ("GET", "HEAD")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
)
INDEX_LIMIT = 50
HEALTH_TIMEOUT = 3.0
_QUALITY = re.compile(r"^q=([0-9.]{1,5})$")  # on the parameters without their spaces

SERVICES = web.AppKey("services", Services)
HUB = web.AppKey("hub", LiveHub)
OUTLINES = web.AppKey("outlines", OutlineCache)
LINKS = web.AppKey("links", views.Links)
WARMING = web.AppKey("warming", asyncio.Task[None])
SITE = web.AppKey("site", sharing.Site)
STREAMS = web.AppKey("streams", StreamGate)
ERROR_LOG = web.AppKey("error_log", Throttle)
BUSY_RETRY_SECONDS = 30
FRAMEABLE = web.RequestKey("frameable", bool)
"""Set on the widget's requests: the only answers other sites may frame."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(services: Services, config: LiveConfig | None = None) -> web.Application:
    """The web application over `services` (the caller opens and closes them)."""
    app = web.Application(middlewares=[guard], client_max_size=1024)
    settings = services.settings
    app[SERVICES] = services
    app[HUB] = LiveHub(services, config)
    app[OUTLINES] = OutlineCache()
    app[LINKS] = views.Links(settings.telegram_bot_username, settings.discord_invite_url)
    app[SITE] = sharing.Site(settings.web_operator, settings.web_contact, settings.web_privacy_url)
    app[STREAMS] = StreamGate(settings.web_max_streams, settings.web_max_streams_per_client)
    app[ERROR_LOG] = Throttle()
    app.router.add_get("/", index, name="index")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/outlines.geojson", outlines, name="outlines")
    app.router.add_get("/places.json", place_names, name="places")
    app.router.add_get("/static/{name}", static, name="static")
    app.router.add_get("/c/{slug}", page, name="page")
    app.router.add_get("/c/{slug}/widget", widget, name="widget")
    app.router.add_get("/c/{slug}/og.png", picture, name="og")
    app.router.add_get("/c/{slug}/share.png", picture, name="share")
    app.router.add_get("/c/{slug}/state.json", state, name="state")
    app.router.add_get("/c/{slug}/events", events, name="events")
    app.router.add_get("/c/{slug}/areas.csv", areas_csv, name="areas_csv")
    app.router.add_get("/c/{slug}/areas.geojson", areas_geojson, name="areas_geojson")
    app.router.add_get("/o/{slug}", organisation_page, name="org_page")
    app.router.add_get("/c/{slug}/proof/{tier}.jpg", proof_picture, name="proof_picture")
    app.router.add_get("/org/{slug}/logo", organisation_logo, name="org_logo")
    app.router.add_get("/org/{slug}/theme.css", organisation_theme, name="org_theme")
    health.add_routes(app, services.db)  # /metrics and /readyz
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(hide_server_version)
    app.on_startup.append(_warm_up_outlines)
    app.on_shutdown.append(_close_hub)
    return app


async def _warm_up_outlines(app: web.Application) -> None:
    """Simplify the map's outlines in the background once per process."""
    app[WARMING] = asyncio.create_task(asyncio.to_thread(warm_up))


async def _close_hub(app: web.Application) -> None:
    await app[HUB].close()


# --- languages, errors and headers -------------------------------------------------------


def accepted_languages(header: str) -> list[str]:
    """The languages of an Accept-Language header, preferred first."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*":
            continue
        quality = 1.0
        match = _QUALITY.match("".join(params.split())) if 0 < len(params) <= 40 else None
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, tag.replace("_", "-").split("-")[0]))
    return [tag for _, _, tag in sorted(ranked)]


def reader(request: web.Request) -> tuple[Translator, bool]:
    """The reader's language: `?lang=`, else Accept-Language, else KOOM_DEFAULT_LOCALE; and
    whether it was chosen in the URL."""
    chosen = request.query.get("lang", "").strip().lower()
    if chosen in SUPPORTED_LOCALES:
        return Translator(chosen), True
    for tag in accepted_languages(request.headers.get("Accept-Language", "")):
        if tag in SUPPORTED_LOCALES:
            return Translator(tag), False
    return Translator(request.app[SERVICES].settings.default_locale), False


def base_url(request: web.Request) -> str:
    """The site's absolute address: KOOM_PUBLIC_URL, else the one the request came to."""
    public = request.app[SERVICES].settings.public_url
    return public or f"{request.scheme}://{request.host}"


def shared_ref(request: web.Request) -> str | None:
    """The payload of a share link of this page (`?start=slug_ref`), when it is one."""
    raw = request.query.get("start", "")
    link = parse_payload(raw) if raw else None
    if link is None or link.referrer_id is None or link.slug != request.match_info.get("slug"):
        return None
    return raw.strip()


def context(request: web.Request) -> views.PageContext:
    """What pages need to know about the reader and the deployment."""
    t, chosen = reader(request)
    min_count = request.app[SERVICES].settings.map_min_count
    return views.PageContext(
        t,
        request.app[LINKS],
        min_count,
        chosen,
        base=base_url(request),
        site=request.app[SITE],
        ref=shared_ref(request),
        logos=request.app[SERVICES].settings.org_logo_dir is not None,
    )


def _format(request: web.Request) -> str:
    path = request.path
    if path.endswith(".csv"):
        return "csv"
    if path.endswith((".json", ".geojson", "/events")) or path == "/healthz":
        return "json"
    return "html"


def error_response(request: web.Request, status: int, key: str, **params: object) -> web.Response:
    """A clear answer in the reader's language and the endpoint's format: an HTML page, JSON
    for the JSON endpoints, text for the CSV."""
    t, _ = reader(request)
    heading = t(f"web.error.{status}")
    message = t(key, **params)
    headers = {"Cache-Control": "no-store"}
    if status == 405:
        headers["Allow"] = ", ".join(ALLOWED)
    kind = _format(request)
    if kind == "json":
        error = {
            404: "not_found",
            405: "method_not_allowed",
            400: "bad_request",
            503: "busy",
        }.get(status, "server_error")
        body = views.json_error(error, message)
        return web.Response(
            status=status, body=body, content_type="application/json", headers=headers
        )
    if kind == "csv":
        return web.Response(status=status, text=message + "\n", headers=headers)
    body = views.error_page(t, status, heading, message)
    return web.Response(
        status=status, body=body, content_type="text/html", charset="utf-8", headers=headers
    )


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only GET and HEAD, everywhere; errors answered in the reader's language."""
    if request.method not in ALLOWED:
        return error_response(request, 405, "web.error.method", method=request.method)
    try:
        return await handler(request)
    except NotFound as missing:
        slug = str(missing.params.get("slug", ""))
        return error_response(request, 404, "web.error.no_challenge", slug=slug)
    except web.HTTPNotFound:
        return error_response(request, 404, "web.error.no_page")
    except web.HTTPMethodNotAllowed:
        return error_response(request, 405, "web.error.method", method=request.method)
    except (web.HTTPException, ConnectionResetError):  # the latter: the reader left
        raise
    except Exception as exc:
        skipped = request.app[ERROR_LOG].allow(type(exc).__name__)
        if skipped is not None:  # each kind of failure at most once a second
            log.exception("web request %s failed (%d alike not logged)", request.path, skipped)
        return error_response(request, 500, "web.error.server")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No script, style or frame from elsewhere; only the widget may be framed."""
    frameable = request.get(FRAMEABLE, False)
    headers = response.headers
    headers["Content-Security-Policy"] = CSP.format(ancestors="*" if frameable else "'none'")
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Resource-Policy"] = "cross-origin" if frameable else "same-site"
    if not frameable:
        headers["X-Frame-Options"] = "DENY"


def _accepts_gzip(request: web.Request) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def cached(
    request: web.Request,
    body: bytes,
    content_type: str,
    etag: str,
    cache_control: str,
    gzipped: bytes | None = None,
    *,
    open_data: bool = False,
) -> web.Response:
    """An answer with an ETag (304 when the client has it), gzipped when it may be."""
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if open_data:
        headers["Access-Control-Allow-Origin"] = "*"
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    if gzipped is not None and _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        body = gzipped
    response = web.Response(body=body, headers=headers)
    response.content_type, _, charset = content_type.partition("; charset=")
    if charset:
        response.charset = charset
    return response


def slug_of(request: web.Request) -> str:
    """The challenge slug in the URL; NotFound when it cannot be one (no query then)."""
    slug = request.match_info["slug"]
    if not SLUG_PATTERN.match(slug):
        raise NotFound("error.challenge_not_found", slug=slug[:60])
    return slug


async def snapshot_of(request: web.Request) -> Snapshot:
    """The shared snapshot of the challenge in the URL; NotFound for an unknown slug."""
    return await request.app[HUB].snapshot(slug_of(request))


def _etag(kind: str, snapshot: Snapshot, *parts: object) -> str:
    tail = "-".join(str(p) for p in parts)
    return f'"{kind}{snapshot.challenge.id}-{snapshot.version}-{tail}"'


# --- handlers ----------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    """The open challenges."""
    services = request.app[SERVICES]
    found = await services.challenges.list_open(limit=INDEX_LIMIT)
    listed = [(c, progress_of(c, services.clock)) for c in found]
    body = views.index_page(context(request), listed)
    return web.Response(
        body=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
    )


async def page(request: web.Request) -> web.Response:
    """The public page of a challenge."""
    ctx = context(request)
    snapshot = (await snapshot_of(request)).read_in(ctx.t.locale)
    body = views.challenge_page(ctx, snapshot)
    where = hashlib.sha256(ctx.base.encode()).hexdigest()[:8]
    tail = (_static_versions(), where, ctx.ref or "")
    etag = _etag("p", snapshot, ctx.t.locale, int(ctx.chosen_lang), *tail)
    response = cached(request, body, "text/html; charset=utf-8", etag, "no-cache")
    response.headers["Vary"] = "Accept-Language, Accept-Encoding"
    return response


async def widget(request: web.Request) -> web.Response:
    """The embeddable widget: framed by partners' sites."""
    request[FRAMEABLE] = True
    ctx = context(request)
    snapshot = (await snapshot_of(request)).read_in(ctx.t.locale)
    body = views.widget_page(ctx, snapshot)
    etag = _etag("w", snapshot, ctx.t.locale, int(ctx.chosen_lang), _static_versions())
    response = cached(request, body, "text/html; charset=utf-8", etag, "no-cache")
    response.headers["Vary"] = "Accept-Language, Accept-Encoding"
    return response


async def picture(request: web.Request) -> web.Response:
    """The page's picture: the link preview (og.png, 1200 x 630) or the picture to share
    (share.png, square; `?size=wide` for the other), redrawn when the count changes."""
    t, _ = reader(request)
    snapshot = (await snapshot_of(request)).read_in(t.locale)
    if request.match_info.route.name == "og":
        size = "wide"
    else:
        size = request.query.get("size", "square")
        if size not in sharing.PICTURE_SIZES:
            return error_response(request, 400, "sharing.bad_size")
    base = base_url(request)
    body = await sharing.picture(t, snapshot, base, size)
    etag = _etag("i", snapshot, t.locale, size, hashlib.sha256(base.encode()).hexdigest()[:8])
    response = cached(request, body, "image/png", etag, "public, max-age=300")
    response.headers["Vary"] = "Accept-Language"
    if size == "square" and request.match_info.route.name == "share":
        name = f"{snapshot.challenge.slug}.png"
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


async def state(request: web.Request) -> web.Response:
    """The live numbers as JSON (polled by clients without server-sent events)."""
    snapshot = await snapshot_of(request)
    t, _ = reader(request)
    body = views.state_json(t, snapshot)
    etag = _etag("s", snapshot, t.locale)
    response = cached(request, body, "application/json", etag, "no-cache", open_data=True)
    response.headers["Vary"] = "Accept-Language, Accept-Encoding"
    return response


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the live state now, then whenever it changes. Every viewer of a
    challenge shares one poller, whatever their number. Past the caps on open streams the
    answer is 503 at once, and the page polls the state JSON instead."""
    hub = request.app[HUB]
    watch, _ = await hub.watch(slug_of(request))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":
        return web.Response(content_type="text/event-stream", headers=headers)
    gate, client = request.app[STREAMS], request.remote or ""
    if not gate.enter(client):
        busy = error_response(request, 503, "web.error.busy")
        busy.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return busy
    try:
        return await _stream(request, hub, watch, headers)
    finally:
        gate.leave(client)


async def _stream(
    request: web.Request, hub: LiveHub, watch: Watch, headers: dict[str, str]
) -> web.StreamResponse:
    t, _ = reader(request)
    response = web.StreamResponse(headers=headers)
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    keepalive = hub.config.keepalive_seconds
    version = -1
    watch.join()
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n")
        while not hub.closing:
            if watch.gone:
                await response.write(b"event: gone\ndata: {}\n\n")
                break
            snapshot = watch.snapshot
            if snapshot is not None and snapshot.version != version:
                version = snapshot.version
                data = views.state_json(t, snapshot)
                await response.write(b"event: state\ndata: " + data + b"\n\n")
            if not await watch.changed(version, keepalive):
                await response.write(b": keepalive\n\n")
    except ConnectionResetError:  # the viewer left
        pass
    finally:
        watch.leave()
    return response


async def areas_csv(request: web.Request) -> web.Response:
    """Open data: pledgers per area as CSV, no area under the minimum count."""
    snapshot = await snapshot_of(request)
    body, gz = snapshot.cached("csv", lambda: _gzipped(views.areas_csv(snapshot.areas)))
    etag = f'"a{snapshot.challenge.id}-{snapshot.areas_version}-csv"'
    response = cached(
        request, body, "text/csv; charset=utf-8", etag, "public, max-age=5", gz, open_data=True
    )
    name = f"{snapshot.challenge.slug}-areas.csv"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


async def areas_geojson(request: web.Request) -> web.Response:
    """Open data: pledgers per area as GeoJSON points, no area under the minimum count."""
    snapshot = await snapshot_of(request)
    min_count = request.app[SERVICES].settings.map_min_count

    def make() -> tuple[bytes, bytes]:
        return _gzipped(views.areas_geojson(snapshot.challenge, snapshot.areas, min_count))

    body, gz = snapshot.cached("geojson", make)
    etag = f'"a{snapshot.challenge.id}-{snapshot.areas_version}-geojson"'
    return cached(
        request, body, "application/geo+json", etag, "public, max-age=5", gz, open_data=True
    )


async def outlines(request: web.Request) -> web.Response:
    """Country outlines: the world at low detail, or `?bbox=west,south,east,north` finer."""
    raw = request.query.get("bbox")
    try:
        bbox = parse_bbox(raw) if raw is not None else None
    except ValueError:
        return error_response(request, 400, "web.error.bad_bbox")
    found = await request.app[OUTLINES].get(bbox)
    return cached(
        request,
        found.body,
        "application/geo+json",
        found.etag,
        "public, max-age=86400",
        found.gzipped,
    )


async def place_names(request: web.Request) -> web.Response:
    """The names of the largest places in `?bbox=west,south,east,north` (else the world)."""
    raw = request.query.get("bbox")
    try:
        bbox = parse_bbox(raw) if raw is not None else None
    except ValueError:
        return error_response(request, 400, "web.error.bad_bbox")
    found = await places(bbox)
    return cached(
        request, found.body, "application/json", found.etag, "public, max-age=86400", found.gzipped
    )


async def static(request: web.Request) -> web.Response:
    """The page's script and style sheet."""
    name = request.match_info["name"]
    try:
        found = views.static_file(name)
    except (KeyError, FileNotFoundError):
        raise web.HTTPNotFound() from None
    forever = request.query.get("v") == found.version
    control = "public, max-age=31536000, immutable" if forever else "public, max-age=300"
    content_type = f"{found.content_type}; charset=utf-8"
    return cached(request, found.body, content_type, f'"{found.version}"', control)


async def proof_picture(request: web.Request) -> web.Response:
    """The picture a sponsor posted as the proof of a kept promise of this challenge."""
    snapshot = await snapshot_of(request)
    tier = request.match_info["tier"]
    kept = {str(t.id) for t in snapshot.challenge.tiers if t.kept_at is not None}
    if tier not in kept:
        raise web.HTTPNotFound()
    data = await request.app[SERVICES].sponsors.picture(int(tier))
    if data is None:
        raise web.HTTPNotFound()
    etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
    return cached(request, data, "image/jpeg", etag, "public, max-age=3600")


async def _organisation(request: web.Request) -> Organisation:
    """The organisation named in the URL; 404 when there is none."""
    slug = request.match_info["slug"]
    if not ORG_SLUG.fullmatch(slug):
        raise web.HTTPNotFound()
    try:
        return await request.app[SERVICES].organisations.by_slug(slug)
    except NotFound:
        raise web.HTTPNotFound() from None


async def organisation_page(request: web.Request) -> web.Response:
    """An organisation's open public challenges; its private ones are never on the web (it
    has no login to tell its members). Opened with `?start=join_CODE` (a member's share from
    Discord or the console), it shows that members' invitation when it is valid."""
    services = request.app[SERVICES]
    organisation = await _organisation(request)
    found = await services.challenges.public_of(organisation.id, INDEX_LIMIT)
    listed = [(c, progress_of(c, services.clock)) for c in found]
    code = parse_join(request.query.get("start", ""))
    invitation = await services.organisations.members_code(organisation.id, code) if code else None
    body = views.index_page(context(request), listed, organisation, invitation)
    return web.Response(
        body=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
    )


async def organisation_logo(request: web.Request) -> web.Response:
    """An organisation's logo, only from KOOM_ORG_LOGO_DIR and only a checked picture."""
    folder = request.app[SERVICES].settings.org_logo_dir
    organisation = await _organisation(request)
    if folder is None or not organisation.logo_file:
        raise web.HTTPNotFound()
    found = await asyncio.to_thread(read_logo, folder, organisation.logo_file)
    if found is None:
        raise web.HTTPNotFound()
    etag = f'"{hashlib.sha256(found.body).hexdigest()[:16]}"'
    return cached(request, found.body, found.content_type, etag, "public, max-age=300")


async def organisation_theme(request: web.Request) -> web.Response:
    """An organisation's colour as a CSS variable (the page's style sheet uses it)."""
    body = views.theme_css(await _organisation(request))
    if not body:
        raise web.HTTPNotFound()
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    control = "public, max-age=31536000, immutable" if request.query.get("v") else "no-cache"
    return cached(request, body, "text/css; charset=utf-8", etag, control)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise (for the deployer's probes)."""
    db = request.app[SERVICES].db
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return web.json_response(
            {"status": "unavailable", "database": "unreachable"},
            status=503,
            headers={"Cache-Control": "no-store"},
        )
    return web.json_response(
        {"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"}
    )


def _gzipped(body: bytes) -> tuple[bytes, bytes]:
    return body, gzip.compress(body, 6)


def _static_versions() -> str:
    return "".join(views.static_file(name).version[:4] for name in views.STATIC_FILES)
