#!/usr/bin/env python3
"""Import circles between the Rust files of each crate of the workspace.

A file depends on another when it names an item of the other's module
(`use crate::a::b::Item;`, `super::x`, or a path written inline). Files
that depend on each other, directly or round a loop, form a circle: a
strongly connected component of more than one file. Prints each circle
(largest first) and a count; `--edges` prints every edge too.

Usage: tools/imports/circles.py [--edges] [ROOT]
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]*);", re.S)
COMMENT = re.compile(r"//[^\n]*")


def module_of(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`."""
    tree = re.sub(r"\s+", "", tree)
    start = tree.find("{")
    if start < 0:
        return [tree.split(" as ")[0]]
    prefix, inner = tree[:start], tree[start + 1 : tree.rfind("}")]
    items, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    items.append(current)
    return [path for item in items if item for path in expand(prefix + item)]


def resolve(module: tuple, is_dir_module: bool, path: str, modules: dict):
    words = path.split("::")
    head, rest = words[0], words[1:]
    if head == "crate":
        base = ()
    elif head == "self":
        base = module
    else:  # super, possibly repeated
        base = module
        while head == "super":
            base = base[:-1]
            head, rest = (rest[0], rest[1:]) if rest and rest[0] == "super" else ("", rest)
    target = base if base in modules else None
    current = base
    for word in rest:
        current = current + (word,)
        if current in modules:
            target = current
        else:
            break
    return modules.get(target) if target is not None else None


INLINE_MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{")


def paths_by_module(module: tuple, text: str):
    """Each path the text names, with the module it is written in (inline
    `mod name { … }` blocks, such as tests, are modules of their own)."""
    stack, depth, statement = [], 0, ""
    for line in text.splitlines():
        opened = INLINE_MOD.match(line)
        if opened:
            stack.append((opened.group(1), depth))
        current = module + tuple(name for name, _ in stack)
        statement += line + "\n"
        if ";" in line or "{" not in statement or statement.count("{") == statement.count("}"):
            for tree in USE.findall(statement):
                for path in expand(tree):
                    yield current, path
            for match in PATH.finditer(statement):
                yield current, match.group(1) + match.group(2)
            statement = ""
        depth += line.count("{") - line.count("}")
        while stack and depth <= stack[-1][1]:
            stack.pop()


def crate_edges(src: Path) -> dict:
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, file): file for file in files}
    edges = {file: set() for file in files}
    for file in files:
        text = COMMENT.sub("", file.read_text())
        for module, path in paths_by_module(module_of(src, file), text):
            target = resolve(module, file.name == "mod.rs", path, modules)
            if target is not None and target != file:
                edges[file].add(target)
    return edges


def circles(edges: dict) -> list:
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = Path(args[0] if args else ".").resolve()
    total = 0
    for manifest in sorted(root.glob("**/Cargo.toml")):
        src = manifest.parent / "src"
        if "target" in manifest.parts or not src.is_dir():
            continue
        edges = crate_edges(src)
        if "--edges" in sys.argv:
            for file, targets in sorted(edges.items()):
                for target in sorted(targets):
                    print(f"{file.relative_to(root)} -> {target.relative_to(root)}")
        for component in sorted(circles(edges), key=len, reverse=True):
            total += 1
            names = ", ".join(str(f.relative_to(root)) for f in component)
            print(f"circle of {len(component)}: {names}")
    print(f"{total} circles")


if __name__ == "__main__":
    main()
