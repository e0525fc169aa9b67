"""The import rules of docs/architecture.md, checked by reading the source with ``ast``.

Every ``import`` in tinygrad_edu/ counts, at any depth: inside functions, under
``if TYPE_CHECKING:``, relative, or ``from tinygrad_edu import x``. The rules:

(a) no import cycle, except among tensor, ops and autograd (they define one another);
(b) the engine (grad_mode, tensor, ops, autograd) imports nothing else from tinygrad_edu;
(c) below the apps (tinygrad_edu.apps, tinygrad_edu.__main__), nothing imports them or
    tinygrad_edu.examples (the example scripts, which the wheel ships under that name);
(d) grad_mode imports nothing from tinygrad_edu;
(e) no module imports an optional extra (matplotlib, torch, ...) when it is imported:
    inside a function, or under ``if TYPE_CHECKING:``, is fine;
(f) so ``import tinygrad_edu`` loads none of them;
(g) more generally, a module imports only its own layer and the layers below (LAYERS).
"""

import ast
import subprocess
import sys

import pytest
from helpers import REPO

PACKAGE_DIR = REPO / "tinygrad_edu"
ENGINE = {f"tinygrad_edu.{m}" for m in ("grad_mode", "tensor", "ops", "autograd")}
CIRCLE = {f"tinygrad_edu.{m}" for m in ("tensor", "ops", "autograd")}  # the one allowed cycle
APPS = ("tinygrad_edu.apps", "tinygrad_edu.examples", "tinygrad_edu.__main__")
EXAMPLES = "tinygrad_edu.examples"  # examples/ in the source tree, a package in the wheel
OPTIONAL = ("matplotlib", "torch", "onnx", "onnxruntime", "jupyter", "hypothesis", "pytest")
LAYERS = {  # bottom to top, as drawn in docs/architecture.md; a new module must be placed
    "engine": ["grad_mode", "tensor", "ops", "autograd"],
    "utilities": ["_io", "_plot", "memory", "threads"],
    "nn / functional / optim": [
        *("functional", "functional.activation", "functional.linear", "functional.loss"),
        *("functional.conv", "nn.conv"),
        *("functional.normalization", "nn.normalization"),
        *("nn", "nn.module", "nn.layers", "nn.init", "nn.utils"),
        *("optim", "optim.optimizer", "optim.lr_scheduler"),
    ],
    "data / datasets / metrics / numerical / models": [
        *("data", "datasets", "metrics", "numerical", "models", "export"),
        *("monitor", "trace"),
    ],
    "viz": ["viz", "explain"],
    "the package's front (__init__)": [""],
    "apps + examples": ["apps", "apps.cli", "apps.common", "__main__", "examples"],
}
LAYER_OF = {
    f"tinygrad_edu.{m}" if m else "tinygrad_edu": (rank, layer)
    for rank, (layer, modules) in enumerate(LAYERS.items())
    for m in modules
}


# ------------------------------------------------------------------ reading the source


def parse_package(package_dir):
    """{module name: (ast tree, path)} for every .py file under ``package_dir``."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir.parent)  # tinygrad_edu/apps/cli.py
        parts = relative.with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (ast.parse(path.read_text(encoding="utf-8"), str(path)), relative)
    return modules


def imported_names(module, path, tree):
    """Absolute dotted names of everything ``module`` imports, at any depth."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..tensor import Tensor
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def resolve(name, known):
    """The longest prefix of ``name`` that is a module of ``known`` (or None)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return None


def import_graph(modules):
    """{module: set of tinygrad_edu modules it imports}."""
    known = set(modules) | {EXAMPLES}
    graph = {}
    for module, (tree, path) in modules.items():
        targets = {resolve(name, known) for name in imported_names(module, path, tree)}
        graph[module] = targets - {None}
    return graph


def is_type_checking(test):
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def runtime_top_level_imports(nodes):
    """Imports that run when the module is imported: not in a function (nor a type-only
    ``if TYPE_CHECKING:`` block), though possibly in a class body, ``if`` or ``try``."""
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            yield from runtime_top_level_imports(node.orelse)
        else:
            yield from runtime_top_level_imports(ast.iter_child_nodes(node))


# ------------------------------------------------------------------ the rules


def reachable(graph, start):
    seen, stack = set(), [start]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def cycle_through(graph, start):
    """A shortest import path from ``start`` back to itself, as a list of modules."""
    paths = {start: [start]}
    queue = [start]
    for module in queue:
        for target in sorted(graph.get(module, ())):
            if target == start:
                return [*paths[module], start]
            if target not in paths:
                paths[target] = [*paths[module], target]
                queue.append(target)
    return []


def cycle_violations(graph):
    """(a) One message per set of modules importing one another, unless inside CIRCLE."""
    reach = {m: reachable(graph, m) for m in graph}
    cycles = {frozenset(n for n in reach[m] if m in reach.get(n, ())) for m in graph}
    return [
        f"import cycle outside {{tensor, ops, autograd}}: "
        f"{' -> '.join(cycle_through(graph, min(c - CIRCLE)))} (all of {sorted(c)})"
        for c in sorted(cycles, key=sorted)
        if c and not c <= CIRCLE
    ]


def engine_violations(graph):
    """(b) The engine imports only the engine."""
    return [
        f"{m} (engine) imports {t}: the engine may import only {sorted(ENGINE)}"
        for m in sorted(ENGINE & set(graph))
        for t in sorted(graph[m] - ENGINE)
    ]


def apps_violations(graph):
    """(c) Below the apps, nothing imports tinygrad_edu.apps or tinygrad_edu.examples."""
    return [
        f"{m} imports {t}: only the apps layer may import tinygrad_edu.apps / .examples"
        for m in sorted(graph)
        if not m.startswith(APPS)
        for t in sorted(graph[m])
        if t.startswith(APPS)
    ]


def grad_mode_violations(graph):
    """(d) grad_mode, the bottom of the engine, imports nothing from tinygrad_edu."""
    return [
        f"tinygrad_edu.grad_mode imports {t}: it must import nothing from tinygrad_edu"
        for t in sorted(graph.get("tinygrad_edu.grad_mode", ()))
    ]


def optional_violations(modules):
    """(e) No optional extra is imported at module top level (inside a function is fine)."""
    found = []
    for module, (tree, path) in sorted(modules.items()):
        for node in runtime_top_level_imports(tree.body):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                if (name or "").split(".")[0] in OPTIONAL:
                    found.append(
                        f"{path.as_posix()}:{node.lineno} ({module}) imports {name} at "
                        f"module level; it is an optional extra: import it inside the "
                        f"function that needs it"
                    )
    return found


def layer_violations(graph):
    """(g) Every module has a layer and imports nothing from a higher one."""
    problems = [
        f"{m} is in no layer: add it to LAYERS in tests/test_architecture.py (and to the "
        f"picture in docs/architecture.md)"
        for m in sorted(set(graph) - set(LAYER_OF))
    ]
    for m in sorted(set(graph) & set(LAYER_OF)):
        for t in sorted(graph[m] & set(LAYER_OF)):
            if LAYER_OF[t][0] > LAYER_OF[m][0]:
                problems.append(
                    f"{m} ({LAYER_OF[m][1]}) imports {t} from a higher layer ({LAYER_OF[t][1]})"
                )
    return problems


# ------------------------------------------------------------------ the tests

MODULES = parse_package(PACKAGE_DIR)
GRAPH = import_graph(MODULES)


# Each rule of the module docstring that is checked on the source: the problems it finds.
RULES = {
    "no_import_cycle_except_tensor_ops_autograd": lambda: cycle_violations(GRAPH),
    "engine_imports_only_the_engine": lambda: engine_violations(GRAPH),
    "nothing_below_the_apps_imports_apps_or_examples": lambda: apps_violations(GRAPH),
    "grad_mode_imports_nothing_from_the_package": lambda: grad_mode_violations(GRAPH),
    "no_optional_extra_imported_at_module_level": lambda: optional_violations(MODULES),
    "every_module_imports_only_its_layer_and_below": lambda: layer_violations(GRAPH),
}


@pytest.mark.parametrize("rule", RULES)
def test_the_package_keeps_the_rule(rule):
    problems = RULES[rule]()
    assert not problems, "\n".join(problems)


def test_import_tinygrad_edu_loads_no_optional_extra():
    code = (
        "import sys; before = set(sys.modules); import tinygrad_edu; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PACKAGE_DIR.parent, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    loaded = sorted(set(run.stdout.split()) & set(OPTIONAL))
    assert not loaded, f"`import tinygrad_edu` loads optional extras: {loaded}"


# ------------------------------------------------------------------ the checker itself


def test_the_checks_catch_broken_rules(tmp_path):
    """A made-up package breaking every rule: each check must complain."""
    package = tmp_path / "tinygrad_edu"
    files = {
        "__init__.py": "from tinygrad_edu import nn\n",
        "grad_mode.py": "def f():\n    from tinygrad_edu import tensor\n",  # (a), (d)
        "tensor.py": "from .grad_mode import f\n",  # relative: cycle with grad_mode (a)
        "ops.py": "from tinygrad_edu import nn\n",  # (b)
        "nn.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    import torch\n"  # type-only: allowed
            "try:\n    import matplotlib.pyplot\nexcept ImportError:\n    pass\n"  # (e)
            "def g():\n    import onnx, tinygrad_edu.examples.mnist_two_layer\n"  # (c)
        ),
        "apps/__init__.py": "",
        "apps/cli.py": "from ..nn import g\nimport tinygrad_edu.examples\n",  # allowed
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    modules = parse_package(package)
    graph = import_graph(modules)
    assert graph["tinygrad_edu.apps.cli"] == {"tinygrad_edu.nn", EXAMPLES}
    assert cycle_violations(graph) == [
        "import cycle outside {tensor, ops, autograd}: tinygrad_edu.grad_mode -> "
        "tinygrad_edu.tensor -> tinygrad_edu.grad_mode "
        "(all of ['tinygrad_edu.grad_mode', 'tinygrad_edu.tensor'])"
    ]
    assert engine_violations(graph) == [
        "tinygrad_edu.ops (engine) imports tinygrad_edu.nn: the engine may import only "
        f"{sorted(ENGINE)}"
    ]
    assert [p.split(":")[0] for p in apps_violations(graph)] == [
        "tinygrad_edu.nn imports tinygrad_edu.examples"
    ]
    assert len(grad_mode_violations(graph)) == 1
    assert layer_violations(graph) == [
        "tinygrad_edu.nn (nn / functional / optim) imports tinygrad_edu.examples from a "
        "higher layer (apps + examples)",
        "tinygrad_edu.ops (engine) imports tinygrad_edu.nn from a higher layer "
        "(nn / functional / optim)",
    ]
    assert [p.split(" (")[0] for p in optional_violations(modules)] == ["tinygrad_edu/nn.py:5"]


def test_the_wheel_lists_every_package():
    """pyproject.toml names the packages explicitly: a new sub-package must be added there,
    or a plain ``pip install`` leaves it out (an editable install would hide the gap)."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(REPO).parts) for init in PACKAGE_DIR.rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
