"""Routes put on an app or a router as they are, instead of through ``include_router``.

FastAPI (0.165) keeps an included router whole: on every request it walks each included router's
routes to learn whether they changed, then matches them twice (once to choose the router, once to
handle the request), each candidate through a context object of its own. A router's own prefix,
tags, responses and schema flag are set on its routes when they are declared, so with nothing given
at inclusion, the routes put on as they are answer the same, in the same order, and make the same
OpenAPI document, matched once (docs/decisions/0015).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.routing import Host, Mount, Route, WebSocketRoute

PLAIN = (Route, WebSocketRoute, Mount, Host)


def add_routes(target: FastAPI | APIRouter, *routers: APIRouter) -> None:
    """Each router's routes appended to ``target``'s, in order. A router that includes another is
    refused: put the inner one's routes on it with ``add_routes`` too."""
    routes = target.router.routes if isinstance(target, FastAPI) else target.routes
    for router in routers:
        for route in router.routes:
            if not isinstance(route, PLAIN):
                raise TypeError(f"{router.prefix or 'a router'} includes a router: add its routes with add_routes")
        routes.extend(router.routes)
