"""The decision core is shared by both integrations, unchanged: each framework is imported only
by its own layer (scanned from the source, so an import added anywhere else fails here)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "runtime" / "softack"

# the LiveKit layer: the gate, the demo that drives it, and its offline harness (the softack/testing package)
LIVEKIT_LAYER = {"gate.py", "demo.py"}
LIVEKIT_HARNESS = "testing"
PIPECAT_LAYER = "pipecat"  # the softack/pipecat package


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _modules() -> list[tuple[str, set[str]]]:
    return [(str(p.relative_to(PACKAGE)), _imported_roots(p)) for p in sorted(PACKAGE.rglob("*.py"))]


def test_pipecat_is_imported_only_in_softack_pipecat():
    offenders = [name for name, roots in _modules() if "pipecat" in roots and not name.startswith(PIPECAT_LAYER + "/")]
    assert offenders == []


def test_livekit_is_imported_only_in_the_livekit_layer():
    offenders = [
        name
        for name, roots in _modules()
        if "livekit" in roots and name not in LIVEKIT_LAYER and not name.startswith(LIVEKIT_HARNESS + "/")
    ]
    assert offenders == []


def test_the_pipecat_layer_uses_the_core_not_the_livekit_layer():
    for name, roots in _modules():
        if name.startswith(PIPECAT_LAYER + "/"):
            source = (PACKAGE / name).read_text()
            assert "livekit" not in roots, name
            assert "from ..gate" not in source and "softack.gate" not in source, name


def test_the_scan_sees_both_layers():
    modules = dict(_modules())
    assert "livekit" in modules["gate.py"]
    assert "pipecat" in modules["pipecat/softack_user_turn_start_strategy.py"]
    assert "pipecat" not in modules["decision.py"] and "livekit" not in modules["decision.py"]
