#!/usr/bin/env python3
"""Checks of the protocol-core probe (tests/artifact/core-probe, built by `make core-probe`).

    check_core_probe.py build/core-probe.o            run the checks, exit 1 on any failure
    check_core_probe.py --json build/core-probe.o     machine-readable results
    check_core_probe.py --expect-fail panic-paths,undefined-symbols OBJ
                                                       exit 0 iff exactly these checks fail
    check_core_probe.py --list-exports [--features F] -
                                                       the probe_* exports (for ld -u)

The probe is a staticlib that calls every public entry point of carp-proto with values from
its exported functions' arguments, built for the kernel target like carp.ko's Rust part and
linked `ld -r` (with every `probe_*` export kept) into one object. Its panic handler calls
the never-defined carp_rust_panic_path_reachable, exactly like kmod/kpi/src/panic.rs: the
symbol remains in the object iff some panic path of the core survived LTO.

Checks (check_ko.py's own implementations where they apply):
  elf-header          as check_ko.py (ELF64 FreeBSD ET_REL x86-64)
  sections-forbidden  as check_ko.py
  relocations         as check_ko.py: R_X86_64_64, PC32, PLT32, 32S only
  no-fpu-simd         as check_ko.py: no x87/MMX/SSE/AVX instruction or register
  panic-paths         as check_ko.py: no carp_rust_panic_path_reachable, no core::panicking
  undefined-symbols   only the allocator and memory functions the kernel provides
                      (malloc, free, memcpy, memmove, memset, memcmp, bcmp)
  probe-coverage      every `probe_*` export of core-probe/src/lib.rs (for the features
                      built) is defined in the object with a non-empty body

When panic-paths fails, the functions that reach the panic machinery are listed (call graph
from the disassembly): the exported probe functions concerned and the innermost non-probe
functions, which locate the core code that brings the panic path.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_ko  # noqa: E402

PROBE_SRC = os.path.join(HERE, "core-probe", "src", "lib.rs")
ALLOWED_UNDEFINED = {"malloc", "free", "memcpy", "memmove", "memset", "memcmp", "bcmp"}
REUSED = ["elf-header", "sections-forbidden", "relocations", "no-fpu-simd", "panic-paths"]


def probe_exports(features):
    """`probe_*` functions lib.rs exports with the given cargo features enabled."""
    names = []
    gate = None
    with open(PROBE_SRC, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'\s*#\[cfg\(feature = "([^"]+)"\)\]', line)
            if m:
                gate = m.group(1)
                continue
            m = re.match(r'\s*pub (?:unsafe )?extern "C" fn (probe_\w+)', line)
            if m:
                if gate is None or gate in features:
                    names.append(m.group(1))
                gate = None
            elif line.strip() and not line.strip().startswith(("#", "//")):
                gate = None if not line.strip().startswith("pub") else gate
    return names


def is_panic_symbol(name):
    return name == check_ko.PANIC_SYMBOL or any(p.search(name) for p in check_ko.PANIC_PATTERNS)


VTABLE_WINDOW = 48  # bytes of a vtable/table after a code reference (drop, size, align, methods)


def call_graph(path, objdump):
    """{function: set(callees)}: calls resolved from relocations (section-relative ones
    mapped to the function at that offset), assembler-resolved calls from the disassembly,
    and references to data (vtables, fmt tables) followed to the functions they point to
    (approximately: the relocations within VTABLE_WINDOW bytes of the referenced offset)."""
    elf = check_ko.Elf(path)
    funcs = collections.defaultdict(list)
    for s in elf.symbols[1:]:
        if s.type == check_ko.STT_FUNC and s.name and 0 < s.shndx < len(elf.sections):
            funcs[s.shndx].append((s.value, s.value + max(s.size, 1), s.name))
    for v in funcs.values():
        v.sort()

    def func_at(secidx, off):
        for lo, hi, name in funcs.get(secidx, ()):
            if lo <= off < hi:
                return name
        return None

    calls = collections.defaultdict(set)
    data_refs = collections.defaultdict(set)   # function -> {(section, offset)}
    data_relocs = collections.defaultdict(list)  # section -> [(offset, target)]
    for secidx, relas in elf.relas.items():
        sec = elf.sections[secidx]
        is_code = bool(sec.flags & check_ko.SHF_EXECINSTR)
        for r in relas:
            sym = elf.symbols[r.sym] if r.sym < len(elf.symbols) else None
            if sym is None:
                continue
            target = None
            if sym.type == check_ko.STT_SECTION or not sym.name:
                pcrel = r.type in (2, 4)
                toff = sym.value + r.addend + (4 if pcrel else 0)
                tsec = elf.sections[sym.shndx] if 0 < sym.shndx < len(elf.sections) else None
                if tsec is not None and tsec.flags & check_ko.SHF_EXECINSTR:
                    target = func_at(sym.shndx, toff)
                elif tsec is not None and is_code:
                    caller = func_at(secidx, r.offset)
                    if caller:
                        data_refs[caller].add((sym.shndx, toff))
                    continue
            else:
                target = sym.name
            if target is None:
                continue
            if is_code:
                caller = func_at(secidx, r.offset)
                if caller and caller != target:
                    calls[caller].add(target)
            else:
                data_relocs[secidx].append((r.offset, target))
    # A referenced table ends at the next offset some code references (or after the window).
    starts = collections.defaultdict(set)
    for refs in data_refs.values():
        for secidx, off in refs:
            starts[secidx].add(off)
    for f, refs in data_refs.items():
        for secidx, off in refs:
            end = min([o for o in starts[secidx] if o > off] + [off + VTABLE_WINDOW])
            for roff, target in data_relocs.get(secidx, ()):
                if off <= roff < end and target != f:
                    calls[f].add(target)
    # Calls the assembler resolved itself (same section, no relocation).
    proc = subprocess.run([objdump, "-d", "-r", "--no-show-raw-insn", path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cur, pending = None, None
    for line in proc.stdout.decode(errors="replace").splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            if pending:
                calls[cur].add(pending)
            cur, pending = m.group(1), None
            continue
        if "R_X86_64_" in line:
            pending = None  # that instruction's target comes from its relocation
            continue
        if pending and cur:
            calls[cur].add(pending)
        pending = None
        m = re.search(r"\s(?:call|jmp)q?\s+0x[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>", line)
        if m and cur and m.group(1) != cur:
            pending = m.group(1)
    if pending and cur:
        calls[cur].add(pending)
    return calls


def panic_reachers(path, objdump):
    """(functions reaching the panic machinery, {function: panic callees it calls directly})."""
    calls = call_graph(path, objdump)
    bad = {f for f in calls if is_panic_symbol(f)}
    for cs in calls.values():
        bad |= {c for c in cs if is_panic_symbol(c)}
    seeds = set(bad)
    changed = True
    while changed:
        changed = False
        for f, cs in calls.items():
            if f not in bad and cs & bad:
                bad.add(f)
                changed = True
    direct = {f: sorted(calls[f] & seeds) for f in bad - seeds if calls[f] & seeds}
    return sorted(bad - seeds), direct, calls, seeds


def demangle(names):
    try:
        p = subprocess.run(["rustfilt"], input="\n".join(names).encode(), stdout=subprocess.PIPE)
        out = p.stdout.decode().splitlines()
        if len(out) == len(names):
            return out
    except OSError:
        pass
    try:
        p = subprocess.run(["c++filt"], input="\n".join(names).encode(), stdout=subprocess.PIPE)
        out = p.stdout.decode().splitlines()
        if len(out) == len(names):
            return out
    except OSError:
        pass
    return names


def run(path, features, objdump):
    results, info = check_ko.run_checks(path, decl_info={}, objdump=objdump)
    by_id = {r.id: r for r in results}
    out = [by_id[i] for i in REUSED if i in by_id]
    if info is None:
        return out, None
    elf = info[0]
    undef = info[2]
    bad_undef = [f"{n}: not an allocator/memory function the kernel provides"
                 for n in undef if n not in ALLOWED_UNDEFINED]
    out.append(check_ko.Result("undefined-symbols", not bad_undef, bad_undef))
    defined = {s.name: s for s in elf.symbols[1:]
               if s.shndx != check_ko.SHN_UNDEF and s.type == check_ko.STT_FUNC}
    cov = []
    exports = probe_exports(features)
    for n in exports:
        s = defined.get(n)
        if s is None:
            cov.append(f"{n}: not defined in the object")
        elif s.size == 0:
            cov.append(f"{n}: empty body")
    if not exports:
        cov.append("no probe_* exports found in core-probe/src/lib.rs")
    out.append(check_ko.Result("probe-coverage", not cov, cov))
    code = sum(s.size for s in elf.sections if s.flags & check_ko.SHF_EXECINSTR)
    return out, {"exports": exports, "code": code, "undefined": undef}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("obj")
    ap.add_argument("--features", default="", help="cargo features the probe was built with")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--expect-fail", default=None,
                    help="comma-separated check ids that must fail (all others must pass)")
    ap.add_argument("--expect-panic-in", default=None,
                    help="with --expect-fail: the probe exports that must be found reaching "
                         "the panic machinery (comma-separated), exactly")
    ap.add_argument("--list-exports", action="store_true",
                    help="print the probe_* exports of lib.rs for --features (OBJ ignored); "
                         "the Makefile links these with ld -u")
    a = ap.parse_args()
    if a.list_exports:
        print(" ".join(probe_exports({f for f in a.features.split(",") if f})))
        return 0
    objdump = os.environ.get("OBJDUMP", "llvm-objdump-14")
    features = {f for f in a.features.split(",") if f}
    results, info = run(a.obj, features, objdump)
    failed = {r.id for r in results if not r.ok}
    reachers = []
    direct = {}
    if "panic-paths" in failed and info is not None:
        reachers, direct, _, _ = panic_reachers(a.obj, objdump)
    if a.json:
        print(json.dumps({"results": {r.id: {"ok": r.ok, "problems": r.problems} for r in results},
                          "panic_reachers": reachers, "direct": direct}))
        return 0 if not failed else 1
    if info is not None:
        print(f"{a.obj}: {os.path.getsize(a.obj)} bytes, code {info['code']} bytes, "
              f"{len(info['exports'])} probe exports, undefined: {' '.join(info['undefined'])}")
    for r in results:
        print(f"  [{'PASS' if r.ok else 'FAIL'}] {r.id}")
        for p in r.problems:
            print(f"         {p}")
    if reachers:
        probes = [f for f in reachers if f.startswith("probe_")]
        print(f"  probe exports with a panic path: {' '.join(probes) or '(none)'}")
        inner = sorted(direct)
        print("  functions calling the panic machinery directly:")
        for name, dm in zip(inner, demangle(inner)):
            print(f"         {dm}  ->  {', '.join(demangle(direct[name]))}")
    if a.expect_fail is not None:
        want = {x for x in a.expect_fail.split(",") if x}
        probes = {f for f in reachers if f.startswith("probe_")}
        want_in = None if a.expect_panic_in is None else \
            {x for x in a.expect_panic_in.split(",") if x}
        if want_in is not None and probes != want_in:
            print(f"core probe negative case: panic path found in {sorted(probes)}, "
                  f"expected in {sorted(want_in)}")
            return 1
        if failed == want:
            where = f", panic path located in {sorted(probes)}" if want_in else ""
            print(f"core probe negative case: exactly {sorted(want)} failed{where}, as expected")
            return 0
        print(f"core probe negative case: failed {sorted(failed)}, expected {sorted(want)}")
        return 1
    print(f"core probe checks: {len(results) - len(failed)}/{len(results)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
