"""The core imports no surface: `assist` may be imported by ingest, serving and tui, never the other way round."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURFACES = {"ingest", "serving", "tui", "qa", "owners"}
# The console script is the one composition root; it imports each surface inside its own command.
EXCEPTIONS = {ROOT / "assist" / "cli.py"}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_assist_imports_no_surface():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_packages(p) & SURFACES)
        for p in (ROOT / "assist").rglob("*.py")
        if p not in EXCEPTIONS and _imported_packages(p) & SURFACES
    }
    assert offenders == {}


def test_cli_imports_surfaces_only_inside_commands():
    tree = ast.parse((ROOT / "assist" / "cli.py").read_text(encoding="utf-8"))
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            top_level.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            top_level |= {a.name.split(".")[0] for a in node.names}
    assert not top_level & SURFACES
