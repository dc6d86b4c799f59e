"""The server's packages import one way: each only from those below it.

Every import counts, those inside functions too (read with ``ast``, nothing
is imported). A new top-level package must take its place in ``LAYERS``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. core: infrastructure; assets: what audiences and jobs both
# need about items; labeling: the labeler workspace and accounts; dashboard:
# the requester dashboard; demo: seeded data and simulated labelers; compat:
# the API the hosted service's client speaks; config: the project
# (settings, urls, asgi, celery).
LAYERS = ["core", "assets", "audiences", "jobs", "labeling", "dashboard", "demo", "compat", "config"]
# The requester-side client imports nothing of the server; tests and
# benchmarks stand above everything.
CLIENT = "crowdcanvas"
ABOVE_ALL = {"tests", "bench"}


def top_level_packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """The absolute names ``path`` imports, with their lines."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return found


def arrows_up() -> list[str]:
    rank = {name: index for index, name in enumerate(LAYERS)}
    server = set(LAYERS)
    wrong = []
    for package in [*LAYERS, CLIENT]:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module, line in imported_modules(path):
                target = module.split(".")[0]
                if target == package or target not in server:
                    continue
                if package == CLIENT or rank[target] > rank[package]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({package} -> {target})")
    return wrong


def test_every_top_level_package_has_its_place():
    unplaced = set(top_level_packages()) - set(LAYERS) - ABOVE_ALL - {CLIENT}
    assert not unplaced, f"place these packages in tests/test_layers.py LAYERS: {sorted(unplaced)}"


def test_no_import_runs_back_up_the_layers():
    wrong = arrows_up()
    assert not wrong, "imports that run back up:\n" + "\n".join(wrong)


def test_the_check_sees_an_arrow_up_inside_a_function(tmp_path, monkeypatch):
    """A lazy import counts as any other does."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "sneaky.py").write_text("def f():\n    from jobs.models import Lease\n    return Lease\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert arrows_up() == ["core/sneaky.py:2 imports jobs.models (core -> jobs)"]
