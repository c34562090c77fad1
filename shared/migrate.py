"""``python -m shared.migrate [SERVICE ...]``: apply each service's migrations (the production image's
migration job; the same as ``lbb migrate``, without the operators' command-line tools installed)."""

from __future__ import annotations

import argparse
import os
import sys

from shared.migrations import upgrade
from shared.registry import SCHEMA_SERVICES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.migrate", description=__doc__)
    parser.add_argument("services", nargs="*", help=f"services to migrate (default: {', '.join(SCHEMA_SERVICES)})")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="postgresql+asyncpg://…")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DATABASE_URL or --database-url")
    for service in args.services or SCHEMA_SERVICES:
        if service not in SCHEMA_SERVICES:
            parser.error(f"{service!r} owns no schema; choose from {', '.join(SCHEMA_SERVICES)}")
        upgrade(service, args.database_url)
        print(f"{service}: at head", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
