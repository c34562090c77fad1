"""Domain errors every service raises, how they map to HTTP answers, and how any error is described
where a caller does not see it (logs, dead-letter headers): without the values it was about.

An HTTP answer may echo what its caller sent (a 422 names the field and the problem); a log line or
a header must not, since operators and other systems read those: ``describe`` gives the exception's
type, a database error's SQLSTATE and constraint, a validation error's field paths and error types,
never the message (PostgreSQL's ``DETAIL: Key (email)=(…)``, pydantic's ``input_value=…``).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError


def validation_problems(exc: ValidationError) -> str:
    """``path: error type`` for each problem, without the input values (nor pydantic's URLs)."""
    problems = exc.errors(include_input=False, include_url=False, include_context=False)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['type']}" for e in problems)


def describe(exc: BaseException) -> str:
    """What went wrong, fit for a log line or a header: no value the error was about."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, ValidationError):
        return f"{name}: {validation_problems(exc)}"
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        driver = getattr(orig, "__cause__", None) or orig  # asyncpg's own exception, under SQLAlchemy's
        facts = [type(driver).__name__, f"SQLSTATE {_sqlstate(orig)}"]
        for attribute in ("table_name", "constraint_name", "column_name"):
            if getattr(driver, attribute, None):
                facts.append(f"{attribute.removesuffix('_name')} {getattr(driver, attribute)}")
        return f"{name}: " + ", ".join(facts)
    if isinstance(exc, DomainError):
        return f"{name} ({exc.status_code})"
    if isinstance(exc, OSError) and exc.errno is not None:  # "Connection refused", never an address
        return f"{name}: errno {exc.errno} ({os.strerror(exc.errno)})"
    return name


def _sqlstate(orig: Any) -> str:
    found = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    cause = getattr(orig, "__cause__", None)
    return str(found or getattr(cause, "sqlstate", None) or "unknown")


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    """An illegal state change: nothing was changed."""

    status_code = 409


class Invalid(DomainError):
    status_code = 422


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status_code)
