"""The house: folders are layers, imports only run down or sideways, no import cycles, and no module or
class too long to read in one sitting (README: Architecture). Read from the source with ``ast``, so a
function-level import counts as much as one at the top."""
import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "gancourse"
# bottom up; the root package (CourseError) and its foundation modules are layer 0
LAYERS = {"seeding": 0, "progress": 0, "profiles": 0, "timing": 0, "threads": 0, "nn": 1, "training": 2, "data": 3, "instruments": 4,
          "papers": 5, "course": 6}
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_LOOP_CORE_LINES = 450, 200, 150


def module_name(path: Path) -> str:
    parts = ["gancourse", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else 0


def imports(module: str) -> set[str]:
    """The gancourse modules that ``module`` imports (anywhere in its file)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("gancourse")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("gancourse"):
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    out.discard(module)
    return {m for m in out if m in MODULES}


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_belongs_to_a_layer():
    assert [m for m in MODULES if m.count(".") and m.split(".")[1] not in LAYERS and m != "gancourse.__main__"] == []


def test_imports_never_run_up_a_layer():
    upward = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
              for a, bs in GRAPH.items() if a != "gancourse.__main__" for b in bs if layer(b) > layer(a)]
    assert upward == []


def test_no_import_cycles():
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        for n in sorted(GRAPH[m]):
            if state.get(n) == "open":
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n, stack + [n])
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_rank_helpers_sit_below_training_and_data():
    assert GRAPH["gancourse.training.ranks"] == set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_classes_read_in_one_sitting(module):
    text = MODULES[module].read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{module}: {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            n = node.end_lineno - node.lineno + 1
            assert n <= MAX_CLASS_LINES, f"{module}.{node.name}: {n} lines"


def test_the_training_loop_core_reads_in_one_sitting():
    """D's step, G's step and the loop: the Trainer's train_step, _descend, fit and what fit calls."""
    tree = ast.parse(MODULES["gancourse.training.loop"].read_text())
    trainer = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Trainer")
    core = [f for f in trainer.body if isinstance(f, ast.FunctionDef) and f.name in ("train_step", "_descend", "_d", "_g", "fit", "_record")]
    assert len(core) == 6
    assert sum(f.end_lineno - f.lineno + 1 for f in core) <= MAX_LOOP_CORE_LINES
