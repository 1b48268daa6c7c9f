"""The pure core imports no edge: no store, web, network, MQTT or HTTP module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tanhui"
CORE = ["domain", "meters", "accounting", "baseline", "points", "audit", "insights", "sim"]
FORBIDDEN = (
    "tanhui.store",
    "tanhui.web",
    "tanhui.ingest",
    "tanhui.jobs",
    "tanhui.cli",
    "tanhui.reports",
    "tanhui.settings",
    "tanhui.clock",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "httpx",
    "paho",
    "psycopg",
    "socket",
    "requests",
    "os",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_no_edge(package: str) -> None:
    offenders = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / package).rglob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert offenders == set()
