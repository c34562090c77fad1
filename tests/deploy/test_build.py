"""Reproducible builds, checked statically: the locks match pyproject.toml, the production lock carries
what the services import and none of the tools, and the image is built from it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "typer", "rich", "networkx", "aiosmtpd", "playwright"}


def locked(name: str) -> dict[str, str]:
    """Package → pinned version of a lock, each pin followed by its hashes."""
    text = (ROOT / "requirements" / name).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, re.M))
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split("==")[0] for b in blocks if "==" in b.split("\n")[0] and "--hash=sha256:" not in b]
    assert not unhashed, f"{name}: pins without hashes: {unhashed}"
    return {canonicalize_name(k): v for k, v in pins.items()}


def test_every_requirement_is_pinned_in_its_lock_within_its_range() -> None:
    prod, dev = locked("prod.txt"), locked("dev.txt")
    wanted = {"prod.txt": list(PYPROJECT["dependencies"])}
    wanted["dev.txt"] = wanted["prod.txt"] + [r for extra in PYPROJECT["optional-dependencies"].values() for r in extra]
    for name, pins in (("prod.txt", prod), ("dev.txt", dev)):
        for line in wanted[name]:
            req = Requirement(line)
            key = canonicalize_name(req.name)
            assert key in pins, f"{req.name} is in pyproject.toml but not in requirements/{name}: run `make lock`"
            assert req.specifier.contains(pins[key], prereleases=True), (
                f"requirements/{name} pins {req.name}=={pins[key]}, outside {req.specifier}: run `make lock`"
            )
    different = {k: (v, dev[k]) for k, v in prod.items() if dev.get(k) != v}
    assert not different, f"the production and dev locks disagree: {different}"


def test_the_production_lock_has_no_tools() -> None:
    assert not TOOLS & set(locked("prod.txt")), "a test or command-line tool would go into the image"


def _imports(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def test_what_the_services_import_is_in_the_production_lock() -> None:
    prod = set(locked("prod.txt"))
    distributions = packages_distributions()
    third_party = _imports(ROOT / "services") | _imports(ROOT / "shared")
    third_party -= set(sys.stdlib_module_names) | {"services", "shared", "__future__"}
    owners = {module: {canonicalize_name(d) for d in distributions.get(module, [module])} for module in third_party}
    missing = {module: sorted(dists) for module, dists in sorted(owners.items()) if not dists & prod}
    assert not missing, f"imported by the services but not in requirements/prod.txt: {missing}"


def test_the_image_installs_the_production_lock_on_a_pinned_base_as_a_user() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:[\w.\-]+@sha256:[0-9a-f]{64}$", dockerfile, re.M)
    assert all(line.startswith("FROM ${PYTHON_IMAGE}") for line in re.findall(r"^FROM .*", dockerfile, re.M))
    assert "--require-hashes" in dockerfile and "requirements/prod.txt" in dockerfile
    assert "requirements/dev.txt" not in dockerfile and "COPY lbb" not in dockerfile
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, re.M)


def test_make_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements/dev.txt" in makefile
    assert "--no-deps" in makefile
