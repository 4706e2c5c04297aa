"""The package layout and the one-way dependency rule of DESIGN.md, read from the imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("theory", "empirics", "simulate", "reports")
ALLOWED = {
    "theory": set(),
    "empirics": set(),
    "simulate": {"theory", "empirics"},
    "reports": {"theory", "empirics", "simulate"},
}


def _imports_of(path: Path, layer: str) -> set[str]:
    """The robocarbon layers a module imports (absolute or relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names = [node.module]
                if node.module == "robocarbon":
                    names = [f"robocarbon.{a.name}" for a in node.names]
            elif node.level >= 2:
                # from ..x import y inside robocarbon.<layer>: resolves to robocarbon.x
                target = node.module.split(".")[0] if node.module else None
                names = [f"robocarbon.{target}"] if target else [f"robocarbon.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "robocarbon" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
            elif parts[0] in LAYERS:  # importing the folder as a top-level package
                found.add(parts[0])
    found.discard(layer)
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_dependency_direction(layer):
    folder = ROOT / layer
    assert folder.is_dir(), f"layout: {layer}/ is missing"
    bad = {}
    for path in sorted(folder.rglob("*.py")):
        extra = _imports_of(path, layer) - ALLOWED[layer]
        if extra:
            bad[str(path.relative_to(ROOT))] = sorted(extra)
    assert not bad, f"{layer} may import only {sorted(ALLOWED[layer])}; violations: {bad}"


def test_checker_catches_a_violation(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text("from robocarbon.simulate import x\nfrom ..reports import y\nimport robocarbon.theory\n")
    assert _imports_of(mod, "empirics") == {"simulate", "reports", "theory"}


def test_required_layout():
    for name in ("pyproject.toml", "README.md", ".ci/run", "theory", "simulate", "empirics",
                 "reports", "tests", "benchmarks"):
        assert (ROOT / name).exists(), name


def test_every_package_folder_is_installed():
    """A subpackage missing from pyproject's package list works in the editable checkout and
    vanishes from a wheel: every folder with an __init__.py must be listed."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for layer in LAYERS:
        for init in (ROOT / layer).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / layer).parts
            found.add(".".join(("robocarbon", layer, *rel)))
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
