"""The house's layers only look down, and no two modules import each other, directly or round a circle.

The import graph is read from the source with `ast`: every `import` and `from ... import`, at module
level and inside functions, and every `importlib.import_module("...")` of a literal name.

    resources  <-  fhirserver  <-  ingestion  <-  review
    evaluation: beside them; it may import them, nothing at run time imports it
    benchmarks: imported by nothing

Within fhirserver the HTTP edges (views) are imported only by URLconfs and by the edges beside them;
every other HTTP piece goes through the public seam fhirserver.api.http.
"""
from __future__ import annotations

import ast
import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("resources", "fhirserver", "ingestion", "review", "evaluation", "benchmarks")
RUNTIME = {"resources": 0, "fhirserver": 1, "ingestion": 2, "review": 3}  # each may import only lower ones

# Imports inside functions that load something heavy or optional only where it is needed. An import
# inside a function for any other reason (a circle it would close at the top) fails the test.
LATE_FOR_A_REASON = {
    ("ingestion.digitize", "ingestion.edge.jobs.pool"): "the reader pool (OpenCV, pdfplumber, pypdfium2) loads "
                                                        "where a job first runs",
    ("ingestion.digitize", "ingestion.reader"): "the reader package loads where a job first runs",
    ("ingestion.edge.uploads", "ingestion.reader"): "the reader package loads with the first upload",
    ("review.pages", "ingestion.reader"): "the reader package loads when a page image is first drawn",
    ("fhirserver.apps", "fhirserver.jobs.celery_app"): "Celery loads only with a broker configured",
    ("ingestion.reader.install_models", "ingestion.reader.prune"): "onnx, only to build the model folders",
    ("ingestion.understanding", "ingestion.terminology"): "optional at that layer (rows stay uncoded)",
}

# Shrinking: modules whose function-level imports are being moved to the top. Empty now: the search
# engine and the access decision import at module level, with no circle.
BEING_REMOVED: dict[str, str] = {}

# HTTP edges: Django views, which only URLconfs and the edges beside them import.
EDGES = ("fhirserver.api.views", "fhirserver.api.audit", "fhirserver.security.views", "ingestion.edge.views",
         "review.views")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: str | None  # the enclosing function's name, None at module level

    def __str__(self) -> str:
        where = f" (in {self.in_function})" if self.in_function else ""
        return f"{self.importer}:{self.line} -> {self.imported}{where}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module a dotted name is (or is inside), None outside the project."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules():
            return candidate
    return None


def _imports_of(module: str, path: Path) -> list[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def add(name: str, node: ast.AST, function: str | None) -> None:
        target = _resolve(name)
        if target is not None and target != module:
            found.append(Import(module, target, node.lineno, function))

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child, function)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([child.module] if child.module else []))
                for alias in child.names:  # `from a import b`: the module a.b when there is one, else a
                    add(f"{base}.{alias.name}" if _resolve(f"{base}.{alias.name}") else base, child, function)
            elif (
                isinstance(child, ast.Call)
                and getattr(child.func, "attr", getattr(child.func, "id", None)) == "import_module"
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
            ):
                add(child.args[0].value, child, function)
            visit(child, inner)

    visit(ast.parse(path.read_text(), filename=str(path)), None)
    return found


@functools.lru_cache(maxsize=1)
def imports() -> tuple[Import, ...]:
    return tuple(i for module, path in modules().items() for i in _imports_of(module, path))


def _top(module: str) -> str:
    return module.split(".")[0]


def _being_removed(item: Import) -> bool:
    return item.in_function is not None and any(
        item.importer == prefix or item.importer.startswith(prefix + ".") for prefix in BEING_REMOVED
    )


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# --- the tests --------------------------------------------------------------------------------------
def test_the_graph_is_read():
    found = {(i.importer, i.imported) for i in imports()}
    assert ("fhirserver.core.interactions", "resources.validation") in found  # module level
    assert ("fhirserver.apps", "fhirserver.jobs.celery_app") in found  # inside a function
    assert len(modules()) > 200 and len(found) > 500


def test_no_arrow_runs_up_the_layers():
    upward = []
    for item in imports():
        low, high = _top(item.importer), _top(item.imported)
        if low == high:
            continue
        if high == "benchmarks":
            upward.append(f"{item}: nothing imports the benchmarks")
        elif high == "evaluation" and low != "benchmarks":
            upward.append(f"{item}: no runtime code imports the evaluation")
        elif low in RUNTIME and RUNTIME[high] > RUNTIME[low]:
            upward.append(f"{item}: {low} sits below {high}")
    assert upward == [], "\n".join(upward)


def test_http_edges_are_imported_only_by_urlconfs_and_the_edges_beside_them():
    wrong = []
    for item in imports():
        if item.imported in EDGES and not item.importer.endswith(".urls") and not _top(item.importer) == "benchmarks":
            beside = item.importer.rpartition(".")[0] == item.imported.rpartition(".")[0]
            if not (beside and item.importer in EDGES):
                wrong.append(f"{item}: use the public seam fhirserver.api.http")
    assert wrong == [], "\n".join(wrong)


def test_no_circle_between_modules():
    graph: dict[str, set[str]] = defaultdict(set)
    for item in imports():
        if not _being_removed(item):
            graph[item.importer].add(item.imported)
    circles = _strongly_connected(graph)
    assert circles == [], "\n".join(" <-> ".join(sorted(c)) for c in circles)


def test_imports_inside_functions_have_a_reason():
    """In runtime code, an import belongs at the top unless it waits for Django's app registry
    (AppConfig.ready) or loads a heavy or optional library where it is needed."""
    unexplained = []
    for item in imports():
        if _top(item.importer) not in RUNTIME or item.in_function in (None, "ready") or _being_removed(item):
            continue
        if not any(
            importer == item.importer and _within(item.imported, target) for importer, target in LATE_FOR_A_REASON
        ):
            unexplained.append(str(item))
    assert unexplained == [], "import these at the top, or say in LATE_FOR_A_REASON why not:\n" + "\n".join(
        unexplained
    )


def test_the_lists_of_exceptions_hold_no_stale_entries():
    late = {(i.importer, i.imported) for i in imports() if i.in_function}
    stale = [pair for pair in LATE_FOR_A_REASON if not any(a == pair[0] and _within(b, pair[1]) for a, b in late)]
    assert stale == []
    for prefix in BEING_REMOVED:
        assert prefix in modules()


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module are the circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(component)
    return circles
