"""Layering rules, checked on the source with ``ast`` (lazy imports inside functions count too).

core: pure Python + numpy; inference: no Qt; ui: never onnxruntime; and no training,
conversion or networking library anywhere in the shipped app.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"

LAYER_RULES = {
    "core": ("PySide6", "onnxruntime", "desktop.ui", "desktop.inference"),
    "inference": ("PySide6", "desktop.ui"),
    "ui": ("onnxruntime",),
}
# Training/conversion stacks are dev-only (and huge); networking would break "offline". onnx
# itself is a test/training dependency, not a runtime one, so the app must not need it either.
FORBIDDEN_EVERYWHERE = (
    "tensorflow", "keras", "sklearn", "tf2onnx", "skl2onnx", "onnx",
    "requests", "urllib.request", "http.client", "socket",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(DESKTOP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an import statement in ``source`` may load, relative imports resolved."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # "from urllib import request" loads urllib.request.
            found.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _violations(imports: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imports for bad in forbidden if name == bad or name.startswith(bad + "."))


def _sources(layer: str | None = None) -> list[Path]:
    root = DESKTOP / layer if layer else DESKTOP
    return sorted(root.rglob("*.py"))


def _imports_of(path: Path) -> set[str]:
    return imported_modules(path.read_text(encoding="utf-8"), _module_name(path), is_package=path.name == "__init__.py")


@pytest.mark.parametrize("layer", sorted(LAYER_RULES))
def test_layer_import_rules(layer: str) -> None:
    files = _sources(layer)
    assert files, f"desktop/{layer} has no modules"
    problems = {
        str(path.relative_to(DESKTOP.parent)): bad
        for path in files
        if (bad := _violations(_imports_of(path), LAYER_RULES[layer]))
    }
    assert problems == {}


def test_no_training_or_network_libraries_anywhere() -> None:
    problems = {
        str(path.relative_to(DESKTOP.parent)): bad
        for path in _sources()
        if (bad := _violations(_imports_of(path), FORBIDDEN_EVERYWHERE))
    }
    assert problems == {}


def test_checker_catches_violations() -> None:
    """The walker must see lazy, aliased, relative and from-imports, or the rules prove nothing."""
    source = (
        "import numpy as np\n"
        "from urllib import request\n"
        "def later():\n"
        "    import onnxruntime as ort\n"
        "    from PySide6.QtWidgets import QWidget\n"
        "from ..ui import image_view\n"
        "from . import metrics\n"
    )
    found = imported_modules(source, "desktop.core.example")
    assert _violations(found, LAYER_RULES["core"]) == ["PySide6.QtWidgets", "PySide6.QtWidgets.QWidget",
                                                         "desktop.ui", "desktop.ui.image_view", "onnxruntime"]
    assert _violations(found, FORBIDDEN_EVERYWHERE) == ["urllib.request"]
    assert "desktop.core.metrics" in found
    assert _violations({"onnxruntime"}, ("onnx",)) == []  # prefix match stops at dots
