"""What the gateway refuses to start with (main.py's lifespan runs ``refuse_unsafe_start`` before
anything is served; uvicorn then exits with the message):

- outside dev mode: no ``CSRF_SECRET`` (two replicas must sign the staff pages' forms alike, so no
  per-process default), one under 32 characters, or any known default password or secret
  (``shared.settings.refuse_default_secrets``);
- in dev mode (unauthenticated dev tokens for any role): an address to listen on outside
  127.0.0.0/8 and ::1.

Where the listening address comes from: uvicorn runs the lifespan before it binds, so there is no
socket to look at yet. The gateway reads what uvicorn is told: ``--host``/``--uds``/``--fd`` on its
command line, else ``UVICORN_HOST``/``UVICORN_UDS``/``UVICORN_FD`` (uvicorn reads these too), else
uvicorn's own default, 127.0.0.1. A process that uvicorn's command line did not start (a test, another
server) is judged by the ``HTTP_HOST`` setting instead. A unix socket is local; an inherited socket
(``--fd``) is judged by the address it is bound to.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from ipaddress import ip_address
from pathlib import Path

from services.gateway.settings import GatewaySettings
from shared.settings import refuse_default_secrets

MIN_SECRET_CHARS = 32


class UnsafeStart(RuntimeError):
    """The gateway will not start with these settings; the message says which and why."""


def _option(argv: Sequence[str], environ: Mapping[str, str], name: str) -> str | None:
    """``--name value`` or ``--name=value`` on uvicorn's command line, else ``UVICORN_NAME``."""
    flag = f"--{name}"
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return environ.get(f"UVICORN_{name.upper()}")


def _socket_host(fd: int) -> str:
    sock = socket.socket(fileno=fd)
    try:
        name = sock.getsockname()
    finally:
        sock.detach()  # the socket is uvicorn's: leave it open
    return str(name[0]) if isinstance(name, tuple) else "unix"


def listening_host(
    settings: GatewaySettings, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The host this process will listen on, and where that was learnt (for the message)."""
    argv = list(argv if argv is not None else sys.argv)
    environ = environ if environ is not None else os.environ
    launcher = argv[:1] and Path(argv[0])
    if not launcher or not (launcher.name == "uvicorn" or launcher.parent.name == "uvicorn"):
        return settings.http_host, "HTTP_HOST"
    if _option(argv, environ, "uds"):
        return "unix", "uvicorn --uds"
    fd = _option(argv, environ, "fd")
    if fd is not None and fd.isdigit():
        return _socket_host(int(fd)), "uvicorn --fd"
    return _option(argv, environ, "host") or "127.0.0.1", "uvicorn --host"


def is_loopback(host: str) -> bool:
    if host in ("unix", "localhost"):
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost, or 0.0.0.0-style wildcards are not addresses of ours


def problems(settings: GatewaySettings, argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> str:
    """What stops this gateway from starting, or '' when nothing does."""
    if settings.dev_mode:
        host, source = listening_host(settings, argv, env)
        if not is_loopback(host):
            return (
                f"refusing to start: DEV_MODE=true issues tokens for any role to anyone who asks, so the "
                f"gateway in dev mode listens on the loopback only (127.0.0.0/8 or ::1), but {source} "
                f"is {host}; listen on 127.0.0.1 or turn dev mode off"
            )
        return ""
    if not settings.csrf_secret:
        return (
            "refusing to start outside dev mode: CSRF_SECRET is not set; give every gateway instance "
            f"the same random value of at least {MIN_SECRET_CHARS} characters (e.g. from a Kubernetes secret)"
        )
    if len(settings.csrf_secret) < MIN_SECRET_CHARS:
        return f"refusing to start outside dev mode: CSRF_SECRET is shorter than {MIN_SECRET_CHARS} characters"
    return ""


def refuse_unsafe_start(settings: GatewaySettings) -> None:
    problem = problems(settings)
    if problem:
        raise UnsafeStart(problem)
    refuse_default_secrets(settings)
