#!/usr/bin/env python3
"""The kernel crates' layering, as a newcomer reads it and as `make test` keeps it.

For each crate (kmod/kpi, kmod/logic, kmod/src), the graph of its files: file A depends on
file B when A names B's module (`crate::b`, `super::b`, `use crate::{b, ...}`). The check
fails on any cycle among a crate's files, and on a crate naming a crate above it (Cargo
enforces the latter too; the check keeps the rule visible). Prints each graph.

    check_layers.py kmod            # the three crates of the module
    check_layers.py --flat DIR      # one directory of files as a single crate (e.g. the
                                    # pre-split kmod/src, to show a before/after graph)
"""

import os
import re
import sys

# Crates from the bottom up; a crate may only name crates listed before it.
LAYERS = [
    ("carp-kpi", "kpi/src", ["sys_bindings", "carp_proto"]),
    ("carp-logic", "logic/src", ["carp_kpi", "carp_proto"]),
    ("carp-kmod", "src", ["carp_kpi", "carp_logic"]),
]
KNOWN_CRATES = {"sys_bindings", "carp_proto", "carp_kpi", "carp_logic", "carp_kmod"}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("lib", "mod"):
        parts = parts[:-1]
    return "::".join(parts) or "(root)"


def files_of(root):
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != "target"]
        for name in sorted(files):
            if name.endswith(".rs"):
                p = os.path.join(d, name)
                out[module_of(root, p)] = p
    return out


def top_module(path_words, mods):
    """The longest known module named by `a::b::c` (crate-relative words)."""
    for n in range(len(path_words), 0, -1):
        cand = "::".join(path_words[:n])
        if cand in mods:
            return cand
    return None


def deps_of(mod, path, mods):
    text = strip_comments(open(path, encoding="utf-8").read())
    deps = set()
    # `crate::a::b`, and `use crate::{a, b::c}` groups.
    for m in re.finditer(r"\bcrate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)", text):
        t = top_module(m.group(1).split("::"), mods)
        if t:
            deps.add(t)
    for m in re.finditer(r"\bcrate::\{([^}]*)\}", text):
        for item in m.group(1).split(","):
            words = [w for w in item.strip().split("::") if w and w != "self"]
            t = top_module(words, mods) if words else None
            if t:
                deps.add(t)
    # `super::x` from a submodule.
    parent = mod.rsplit("::", 1)[0] if "::" in mod else None
    for m in re.finditer(r"\bsuper::([a-z_][a-z0-9_]*)", text):
        base = f"{parent}::{m.group(1)}" if parent else m.group(1)
        if base in mods:
            deps.add(base)
    deps.discard(mod)
    deps.discard("(root)")
    return deps


def crates_named(path):
    text = strip_comments(open(path, encoding="utf-8").read())
    return {c for c in KNOWN_CRATES if re.search(rf"\b{c}::|\b{c}\b\s*(?:as|;)", text)}


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def report(name, root):
    mods = files_of(root)
    graph = {m: deps_of(m, p, mods) for m, p in mods.items()}
    print(f"{name} ({root}): {len(mods)} files")
    for m in sorted(graph):
        print(f"  {m} -> {', '.join(sorted(graph[m])) or '-'}")
    found = cycles(graph)
    for c in found:
        print(f"  CYCLE: {' <-> '.join(c)}")
    return mods, found


def main(argv):
    if len(argv) >= 2 and argv[0] == "--flat":
        _, found = report("flat", argv[1])
        return 1 if found else 0
    root = argv[0] if argv else "kmod"
    problems = 0
    for i, (name, sub, allowed) in enumerate(LAYERS):
        d = os.path.join(root, sub)
        mods, found = report(name, d)
        problems += len(found)
        below = set(allowed)
        for m, p in mods.items():
            for c in crates_named(p) - below - {name.replace("-", "_")}:
                if c in KNOWN_CRATES:
                    print(f"  LAYER: {os.path.relpath(p, root)} names {c}, which {name} may not use")
                    problems += 1
    print(f"layers: {'ok' if not problems else f'{problems} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
