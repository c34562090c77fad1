"""Who is signed in to the staff pages, and how: the session cookie (the bearer token, HttpOnly),
CSRF tokens derived from it, the in-process API client the pages use, rendering, and the sign-in
routes.

Sign-in: with an OIDC identity provider and ``OIDC_CLIENT_ID``, the authorization code flow with
PKCE (``/staff/sign-in/oidc`` → the provider → ``/staff/sign-in/callback``); the access token the
provider issues for ``JWT_AUDIENCE`` becomes the session. A token can also be pasted
(``POST /staff/sign-in`` with ``token``). In dev mode a form picks a subject and role instead (and,
optionally, an e-mail address: the dev token's ``email`` claim).

CSRF: a signed-in person's forms carry an HMAC of their session under ``CSRF_SECRET``. The sign-in
form, before there is a session, carries an HMAC of a random nonce the sign-in page sets in a cookie
(``__Host-lbb_csrf`` outside dev mode, so no sibling site can plant one): a page elsewhere can post
neither the nonce's HMAC nor make the browser send a nonce it knows, so nobody can sign a victim in
to the attacker's account. Cookies are ``Secure`` unless in dev mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader

from services.gateway.auth import JwksKeys, authenticate, issue_dev_token
from services.gateway.settings import GatewaySettings
from shared.events import LEADERSHIP_DIMENSIONS
from shared.identity import Caller
from shared.observability import request_id_var
from shared.programmes import KINDS

HERE = Path(__file__).parent
SESSION_COOKIE = "lbb_session"
SIGN_IN_COOKIE = "lbb_sign_in"  # state and PKCE verifier while the provider signs the person in
CSRF_COOKIE = "lbb_csrf"  # the sign-in form's nonce; ``__Host-`` prefixed when Secure
NHSUK = HERE / "static" / "nhsuk"  # nhsuk-frontend's stylesheet and icons (``make assets``)
# Our pages first, then the NHS design system's macros (nhsuk-frontend-jinja), which expect
# ChainableUndefined: their parameters are read as ``params.label.text`` whether given or not.
templates = Jinja2Templates(
    env=Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), PackageLoader("nhsuk_frontend_jinja")]),
        undefined=ChainableUndefined,
        autoescape=True,
    )
)
router = APIRouter(prefix="/staff", include_in_schema=False)  # signing in and out

DIMENSION_NAMES = {d: d.replace("_", " ").capitalize() for d in LEADERSHIP_DIMENSIONS}
KIND_NAMES = {k.name: k.title for k in KINDS.values()}


SAID_OTHERWISE = {
    "non_clinical": "Non-clinical",
    "icb": "Integrated care board",
    "vcse": "Voluntary sector (VCSE)",
    "fire_rescue": "Fire and rescue",
}


def words(code: object) -> str:
    """A code as people say it: ``local_authority`` → "Local authority", ``non_clinical`` → "Non-clinical"."""
    return SAID_OTHERWISE.get(str(code), str(code).replace("_", " ").capitalize())


templates.env.filters["words"] = words
STATE_NAMES = {
    "submitted": "Submitted: waiting for your sponsor",
    "endorsed": "Endorsed: waiting for the Programme Board",
    "shortlisted": "Shortlisted",
    "waitlisted": "On the waiting list",
    "declined": "Not offered a place",
    "withdrawn": "Withdrawn",
    "enrolled": "Enrolled: you are a fellow",
}


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Session:
    """The signed-in person: their token, who they are, and a client of the gateway's API."""

    def __init__(self, request: Request, token: str, caller: Caller) -> None:
        self.request = request
        self.token = token
        self.caller = caller

    @property
    def csrf(self) -> str:
        return csrf_token(self.request, self.token)

    async def api(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        transport = httpx.ASGITransport(app=self.request.app, client=self.request.client or ("127.0.0.1", 0))
        headers = {"Authorization": f"Bearer {self.token}", "X-Request-Id": request_id_var.get() or ""}
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            answer = await client.request(method, path, json=body, params=params, headers=headers)
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise ApiError(answer.status_code, str(detail))
        return answer.json() if answer.content else None


def _mac(request: Request, purpose: bytes, value: str) -> str:
    settings: GatewaySettings = request.app.state.settings
    return hmac.new(settings.csrf_secret.encode(), purpose + value.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request, token: str) -> str:
    return _mac(request, b"csrf:", token)


def csrf_cookie(settings: GatewaySettings) -> str:
    return f"__Host-{CSRF_COOKIE}" if settings.secure_cookies else CSRF_COOKIE


def sign_in_nonce(request: Request) -> str | None:
    settings: GatewaySettings = request.app.state.settings
    return request.cookies.get(csrf_cookie(settings))


def check_sign_in_csrf(request: Request, csrf: str) -> None:
    nonce = sign_in_nonce(request)
    if not nonce or not hmac.compare_digest(_mac(request, b"sign-in:", nonce), csrf):
        raise HTTPException(403, detail="the sign-in form has expired; reload the page and try again")


async def session(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        caller = await authenticate(request, token)
    except HTTPException:
        return None
    return Session(request, token, caller)


async def signed_in(request: Request) -> Session:
    me = await session(request)
    if me is None:
        raise HTTPException(303, headers={"Location": "/staff/sign-in"})
    return me


def render(request: Request, name: str, me: Session | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings: GatewaySettings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        name,
        {
            "me": me,
            "caller": me.caller if me else None,
            "csrf": me.csrf if me else "",
            "dev_mode": settings.dev_mode,
            "message": request.query_params.get("message", ""),
            "error": request.query_params.get("error", ""),
            "dimension_names": DIMENSION_NAMES,
            "state_names": STATE_NAMES,
            "kind_names": KIND_NAMES,
            "kinds": KINDS,
            **context,
        },
        status_code=status_code,
    )


def back(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)


def check_csrf(me: Session, csrf: str) -> None:
    if not hmac.compare_digest(me.csrf, csrf):
        raise HTTPException(403, detail="the form has expired; reload the page and try again")


async def post(me: Session, csrf: str, path: str, body: Any, page: str, done: str, *, method: str = "POST") -> Response:
    """Send a form's body to the API and go back to ``page``, with ``done`` or the refusal."""
    check_csrf(me, csrf)
    try:
        await me.api(method, path, body)
    except ApiError as exc:
        return back(page, error=exc.detail)
    return back(page, message=done)


Csrf = Annotated[str, Form()]  # missing or forged: 403 either way (check_csrf)


# --- signing in and out ---


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    organisations: list[dict[str, Any]] = []
    settings: GatewaySettings = request.app.state.settings
    if settings.dev_mode:
        token = issue_dev_token(settings, "sign-in-page", "admin", None)
        try:
            organisations = await Session(request, token, Caller("sign-in-page", "admin")).api(
                "GET", "/api/organisations"
            )
        except ApiError:
            organisations = []
    nonce = sign_in_nonce(request) or secrets.token_urlsafe(24)
    csrf = _mac(request, b"sign-in:", nonce)
    page = render(
        request, "sign_in.html", None, organisations=organisations, oidc=bool(settings.oidc_client_id), csrf=csrf
    )
    page.set_cookie(
        csrf_cookie(settings), nonce, httponly=True, samesite="strict", secure=settings.secure_cookies, path="/"
    )
    return page


@router.post("/sign-in")
async def sign_in(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    sub: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    organisation_id: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
) -> Response:
    settings: GatewaySettings = request.app.state.settings
    check_sign_in_csrf(request, csrf)
    if not token:
        if not settings.dev_mode:
            return back("/staff/sign-in", error="sign in through your organisation's identity provider")
        if not sub.strip() or role not in ("applicant", "sponsor", "board", "admin"):
            return back("/staff/sign-in", error="give your name and pick a role")
        organisation: uuid.UUID | None = None
        if role == "sponsor":
            try:
                organisation = uuid.UUID(organisation_id)
            except ValueError:
                return back("/staff/sign-in", error="a sponsor picks their organisation")
        email = email.strip()
        if email and (email.count("@") != 1 or len(email.split()) != 1):
            return back("/staff/sign-in", error="that e-mail address does not look right")
        token = issue_dev_token(settings, sub.strip(), role, organisation, email or None)
    return await start_session(request, token)


async def start_session(request: Request, token: str) -> Response:
    settings: GatewaySettings = request.app.state.settings
    try:
        await authenticate(request, token)
    except HTTPException:
        return back("/staff/sign-in", error="that token is not valid")
    response = back("/staff/")
    # Lax, so the first page after the provider's redirect is signed in; forms carry CSRF tokens.
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/staff",
        max_age=12 * 3600,
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/staff/sign-in")
    return response


def _provider(request: Request) -> JwksKeys:
    settings: GatewaySettings = request.app.state.settings
    keys: JwksKeys | None = getattr(request.app.state, "jwks", None)
    if keys is None or not settings.oidc_client_id:
        raise HTTPException(404)
    return keys


def _redirect_uri(request: Request) -> str:
    settings: GatewaySettings = request.app.state.settings
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/staff/sign-in/callback"


@router.get("/sign-in/oidc")
async def sign_in_with_provider(request: Request) -> Response:
    """Off to the identity provider (authorization code flow with PKCE, S256)."""
    settings: GatewaySettings = request.app.state.settings
    provider = _provider(request)
    try:
        endpoint = str((await provider.configuration())["authorization_endpoint"])
    except (httpx.HTTPError, ValueError, KeyError):
        return back("/staff/sign-in", error="the identity provider cannot be reached; try again later")
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": _redirect_uri(request),
        "scope": settings.oidc_scopes,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)
    response.set_cookie(
        SIGN_IN_COOKIE,
        f"{state}.{verifier}",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/staff/sign-in",
        max_age=600,
    )
    return response


@router.get("/sign-in/callback")
async def sign_in_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    """Back from the identity provider: the code, exchanged for the access token, is the session."""
    settings: GatewaySettings = request.app.state.settings
    provider = _provider(request)
    expected_state, _, verifier = request.cookies.get(SIGN_IN_COOKIE, "").partition(".")
    if error or not code or not expected_state or not hmac.compare_digest(expected_state, state):
        return back("/staff/sign-in", error="signing in did not complete; please try again")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _redirect_uri(request),
        "client_id": settings.oidc_client_id,
        "code_verifier": verifier,
    }
    if settings.oidc_client_secret:
        form["client_secret"] = settings.oidc_client_secret
    try:
        endpoint = str((await provider.configuration())["token_endpoint"])
        answer = await provider.client.post(endpoint, data=form, timeout=10)
        token = answer.json().get("access_token") if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError):
        token = None
    if not isinstance(token, str) or not token:
        return back("/staff/sign-in", error="the identity provider did not sign you in; please try again")
    return await start_session(request, token)


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    check_csrf(me, csrf)
    response = back("/staff/sign-in", message="You have signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/staff")
    return response
