#!/usr/bin/env python3
"""Fails when a module of any crate imports a module that imports it back.

Each source file is a module. A file depends on another when it names it: `crate::a::b`,
`super::x`, or `child::` for a module it declares. Modules that depend on each other, directly
or round a longer circle, are printed and the script exits 1. Test-only code (`#[cfg(test)]`
modules and `tests/`) is not checked: a test may look at anything.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_files(src: Path) -> dict:
    """Module path (tuple) -> file, for every .rs file under src."""
    modules = {}
    for path in src.rglob("*.rs"):
        rel = path.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("lib", "main") and len(parts) == 1:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        modules[tuple(parts)] = path
    return modules


def resolve(modules: dict, path: tuple):
    """The deepest module a path names (`a::b::Item` -> module a::b, or a)."""
    for end in range(len(path), 0, -1):
        if path[:end] in modules:
            return path[:end]
    return None


def code_of(text: str) -> str:
    """The file's code: without comments (a doc link is not an import) and without its
    #[cfg(test)] module (kept last in a file, as this codebase does)."""
    at = text.find("#[cfg(test)]")
    text = text if at < 0 else text[:at]
    return re.sub(r"//[^\n]*", "", text)


def edges_of(modules: dict, module: tuple, text: str) -> set:
    deps = set()
    declared = set(re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;", text, re.M))
    # `use crate::{a, b::c}` groups: expand the first level.
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        for item in group.split(","):
            first = item.strip().split("::")[0].strip()
            if first and first != "self":
                target = resolve(modules, (first,) + tuple(p.strip() for p in item.strip().split("::")[1:]))
                if target:
                    deps.add(target)
    for path in re.findall(r"crate::((?:[a-z_][a-z_0-9]*::)*[A-Za-z_][A-Za-z_0-9]*)", text):
        target = resolve(modules, tuple(path.split("::")))
        if target:
            deps.add(target)
    for path in re.findall(r"\bsuper::((?:[a-z_][a-z_0-9]*::)*[A-Za-z_][A-Za-z_0-9]*|\{)", text):
        parent = module[:-1]
        if path == "{":
            deps.add(parent)
            continue
        target = resolve(modules, parent + tuple(path.split("::")))
        deps.add(target if target else parent)
    for child in declared:
        if re.search(r"\b" + child + r"::", text):
            deps.add(module + (child,))
    deps.discard(module)
    return {d for d in deps if d is not None and d in modules}


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def main() -> int:
    failures = []
    for manifest in sorted(ROOT.glob("*/*/Cargo.toml")):
        src = manifest.parent / "src"
        if not src.is_dir():
            continue
        modules = module_files(src)
        graph = {m: edges_of(modules, m, code_of(f.read_text())) for m, f in modules.items()}
        for component in cycles(graph):
            names = sorted("::".join(m) or "(crate root)" for m in component)
            failures.append(f"{manifest.parent.relative_to(ROOT)}: {' <-> '.join(names)}")
    for failure in failures:
        print(f"import circle: {failure}")
    if failures:
        print(f"{len(failures)} import circle(s): a module may use only modules that do not use it back")
        return 1
    print("no import circles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
