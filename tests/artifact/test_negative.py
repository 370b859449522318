#!/usr/bin/env python3
"""Proves every artifact check can fail: feeds check_ko.py deliberately broken objects.

    test_negative.py build/carp.ko

Two families of bad objects, built at test time:
  1. carp.ko itself, altered with llvm-objcopy or a byte patch (wrong OS/ABI, type, machine,
     class; a required linker set renamed away; a forbidden section added);
  2. a tiny well-formed kernel module (fixtures/module.c), compiled with the kernel flags and
     linked like carp.ko, with one defect switched on by a BAD_* macro (SSE/MMX/x87 code,
     GOTPCREL or R_X86_64_32 relocations, an undeclared or CARP-internal undefined symbol,
     the panic-path symbol, a core::panicking symbol, a kernel function defined locally,
     .eh_frame, .llvm_addrsig, a 14.x kernel dependency, a module not named carp).

Each case states which checks must fail; all others must pass, so a case proves the check
catches the defect and that the other checks do not misfire on it. The unaltered fixture
must pass everything. Environment: as for check_ko.py (the Makefile's artifact-test target
sets it), plus LD_KERNEL, OBJCOPY.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_ko  # noqa: E402

ARCH = os.environ.get("CARP_ARCH", "x86_64")
ALL = check_ko.check_ids(ARCH)


def env(name, default):
    return os.environ.get(name, default)


CC = env("CC_KERNEL", "clang-14")
LD = env("LD_KERNEL", "ld.lld-14")
OBJCOPY = env("OBJCOPY", "llvm-objcopy-14")
NM = env("NM", OBJCOPY.replace("objcopy", "nm"))
OBJDUMP = env("OBJDUMP", "llvm-objdump-14")


def run(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace")


def link_like_carp(objs, out, hash_style="sysv"):
    """The Makefile's link of carp.ko. amd64: ld -r, strip debug, localize defined globals;
    arm64: ld -r, localize, ld -Bshareable (kmod.mk's shared-object module), strip."""
    full = out + ".full"
    if ARCH == "aarch64":
        kld = out + ".kld"
        run(LD, "-m", "aarch64elf", "-r", "--no-relax", "--warn-common", "--build-id=sha1",
            "-o", kld, *objs)
        syms = run(NM, "--defined-only", "--extern-only", "--format=just-symbols", kld).split()
        if syms:
            run(OBJCOPY, *[f"--localize-symbol={s}" for s in syms], kld)
        run(LD, "-m", "aarch64elf", "-Bshareable", "-znotext", "-znorelro", "--no-relax",
            f"--hash-style={hash_style}", "--warn-common", "--build-id=sha1", "-o", full, kld)
        run(OBJCOPY, "--strip-debug", full, out)
        return out
    run(LD, "-m", "elf_x86_64_fbsd", "-r", "--warn-common", "--build-id=sha1", "-o", full, *objs)
    run(OBJCOPY, "--strip-debug", full, out)
    syms = run(NM, "--defined-only", "--extern-only", "--format=just-symbols", out).split()
    if syms:
        run(OBJCOPY, *[f"--localize-symbol={s}" for s in syms], out)
    return out


def patch(src, dst, offset, data):
    b = bytearray(open(src, "rb").read())
    b[offset:offset + len(data)] = data
    open(dst, "wb").write(bytes(b))
    return dst


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    ko = sys.argv[1]
    cflags = os.environ["CARP_KERNEL_CFLAGS"].split()
    sources = os.environ["CARP_DECL_SOURCES"].split()
    decls, _ = check_ko.kernel_declarations(" ".join(cflags), sources, CC)
    fixture = os.path.join(HERE, "fixtures", "module.c")

    failures = []
    ncases = 0
    with tempfile.TemporaryDirectory(prefix="carp-negative-") as tmp:
        def t(name):
            return os.path.join(tmp, name)

        def fixture_obj(name, *extra, link=True, hash_style="sysv"):
            obj = t(name + ".o")
            run(CC, *cflags, *extra, "-c", fixture, "-o", obj)
            return link_like_carp([obj], t(name + ".ko"), hash_style) if link else obj

        def objcopy_variant(name, *args):
            run(OBJCOPY, *args, ko, t(name))
            return t(name)

        def blob(name, content=b"\x00" * 16):
            p = t(name)
            open(p, "wb").write(content)
            return p

        if ARCH == "aarch64":
            cases = [
                # (description, object, checks that must fail)
                ("unaltered fixture module", lambda: fixture_obj("good"), []),
                # Read as a relocatable object, the shared object's metadata pointers,
                # relocations and linker-set bounds all look wrong as well.
                ("ET_REL instead of ET_DYN (an amd64-style module)",
                 lambda: patch(ko, t("rel.ko"), 16, (1).to_bytes(2, "little")),
                 ["elf-header", "kernel-shadowing", "module-metadata", "relocations"]),
                ("machine x86-64 instead of AArch64",
                 lambda: patch(ko, t("amd64.ko"), 18, (62).to_bytes(2, "little")), ["elf-header"]),
                ("ELF32 class byte",
                 lambda: patch(ko, t("elf32.ko"), 4, b"\x01"), ["elf-header"]),
                ("GNU hash table only (no DT_HASH)",
                 lambda: fixture_obj("gnuhash", hash_style="gnu"), ["elf-header"]),
                ("code without BTI landing pads (-mbranch-protection=none)",
                 lambda: fixture_obj("nobti", "-mbranch-protection=none"), ["elf-header"]),
            ]
        else:
            cases = [
                # (description, object, checks that must fail)
                ("unaltered fixture module", lambda: fixture_obj("good"), []),
                ("OS/ABI System V instead of FreeBSD",
                 lambda: patch(ko, t("osabi.ko"), 7, b"\x00"), ["elf-header"]),
                ("ET_EXEC instead of ET_REL",
                 lambda: patch(ko, t("exec.ko"), 16, (2).to_bytes(2, "little")), ["elf-header"]),
                ("machine i386 instead of x86-64",
                 lambda: patch(ko, t("i386.ko"), 18, (3).to_bytes(2, "little")), ["elf-header"]),
                ("ELF32 class byte",
                 lambda: patch(ko, t("elf32.ko"), 4, b"\x01"), ["elf-header"]),
            ]
        for s in check_ko.REQUIRED_SECTIONS:
            extra = ["module-metadata"] if s == "set_modmetadata_set" else []
            cases.append((f"{s} missing", (lambda s=s: objcopy_variant(
                f"no_{s}.ko", f"--rename-section={s}=renamed_{s[4:]}")),
                ["sections-required"] + extra))
        for s in [".llvmbc", ".llvm_addrsig", ".eh_frame"]:
            cases.append((f"{s} section added", (lambda s=s: objcopy_variant(
                f"add{s}.ko", f"--add-section={s}={blob('blob' + s)}")),
                ["sections-forbidden"]))
        if ARCH == "aarch64":
            cases += [
                ("FP instruction (fmov d0)", lambda: fixture_obj("fp", "-DBAD_FP_A64"),
                 ["no-fpu-simd"]),
                ("SIMD instruction (movi v0.16b)", lambda: fixture_obj("simd", "-DBAD_SIMD_A64"),
                 ["no-fpu-simd"]),
                ("x18 written (the per-CPU pointer)", lambda: fixture_obj("x18", "-DBAD_X18_A64"),
                 ["reserved-registers"]),
                ("thread-local storage (TLS relocations)", lambda: fixture_obj("tls", "-DBAD_TLS"),
                 ["relocations"]),
            ]
        else:
            cases += [
                ("real .eh_frame (-fasynchronous-unwind-tables)",
                 lambda: fixture_obj("ehframe", "-fasynchronous-unwind-tables"),
                 ["sections-forbidden"]),
                ("real SHT_LLVM_ADDRSIG (-faddrsig, unlinked object)",
                 lambda: fixture_obj("addrsig", "-faddrsig", link=False), ["sections-forbidden"]),
                ("SSE register use", lambda: fixture_obj("sse", "-DBAD_SSE"), ["no-fpu-simd"]),
                ("MMX register use", lambda: fixture_obj("mmx", "-DBAD_MMX"), ["no-fpu-simd"]),
                ("x87 instructions", lambda: fixture_obj("x87", "-DBAD_X87"), ["no-fpu-simd"]),
                ("R_X86_64_GOTPCREL relocation",
                 lambda: fixture_obj("gotpcrel", "-DBAD_GOTPCREL"), ["relocations"]),
                ("R_X86_64_32 relocation",
                 lambda: fixture_obj("reloc32", "-DBAD_RELOC32"), ["relocations"]),
            ]
        cases += [
            ("kernel dependency on 14.x",
             lambda: fixture_obj("v14", "-U__FreeBSD_version", "-D__FreeBSD_version=1403000"),
             ["module-metadata"]),
            ("module named carq", lambda: fixture_obj("carq", "-DFIXTURE_NAME=carq"),
             ["module-metadata"]),
            ("undefined symbol no kernel header declares",
             lambda: fixture_obj("undeclared", "-DBAD_UNDECLARED"), ["undefined-symbols"]),
            ("undefined carp_ioctl (CARP's own function, not the kernel's)",
             lambda: fixture_obj("own", "-DBAD_OWN_INTERFACE"), ["undefined-symbols"]),
            ("kernel function defined inside the module",
             lambda: fixture_obj("shadow", "-DBAD_SHADOW"), ["kernel-shadowing"]),
            ("surviving panic path (carp_rust_panic_path_reachable)",
             lambda: fixture_obj("panic", "-DBAD_PANIC"), ["undefined-symbols", "panic-paths"]),
            ("core::panicking symbol present",
             lambda: fixture_obj("corepanic", "-DBAD_PANIC_CORE"), ["panic-paths"]),
            ("the real carp.ko", lambda: ko, []),
        ]

        caught = set()
        for desc, make, expected in cases:
            ncases += 1
            path = make()
            results, _ = check_ko.run_checks(path, decls, OBJDUMP, ARCH)
            failed = sorted(r.id for r in results if not r.ok)
            ran = sorted(r.id for r in results)
            if expected == ["elf-header"] and ran == ["elf-header"]:
                ok = failed == ["elf-header"]   # unparseable: checking stops there
            else:
                ok = failed == sorted(expected) and ran == sorted(ALL)
            caught.update(failed if ok else [])
            mark = "ok  " if ok else "FAIL"
            print(f"  [{mark}] {desc}: fails {', '.join(failed) or 'nothing'}"
                  + ("" if ok else f" (expected {', '.join(expected) or 'nothing'})"))
            if not ok:
                failures.append(desc)
                for r in results:
                    if not r.ok:
                        for p in r.problems[:3]:
                            print(f"           {r.id}: {p}")
        # The source rule for unsafe code (check_unsafe.py) on a crafted crate tree.
        import check_unsafe
        src = t("src")
        os.makedirs(os.path.join(src, "kpi"))
        with open(os.path.join(src, "lib.rs"), "w") as f:
            f.write("pub fn f(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n")
        with open(os.path.join(src, "kpi", "x.rs"), "w") as f:
            f.write("pub unsafe fn g() {}\n\npub fn h(p: *const u8) -> u8 {\n"
                    "    // just a comment\n    unsafe { *p }\n}\n"
                    "// SAFETY: documented\npub fn k(p: *const u8) -> u8 { unsafe { *p } }\n")
        found = []
        for d, _, files in os.walk(src):
            for name in files:
                found += check_unsafe.check_file(os.path.join(d, name), os.path.join(src, "kpi"))
        kinds = sorted(p.split(": ", 1)[1] for p in found)
        want = sorted(["`unsafe` outside kmod/kpi/",
                       "unsafe block/impl without a `// SAFETY:` comment",
                       "unsafe block/impl without a `// SAFETY:` comment",
                       "unsafe fn without a `# Safety` doc section"])
        ncases += 1
        ok = kinds == want
        print(f"  [{'ok  ' if ok else 'FAIL'}] unsafe source rules (check_unsafe.py) on a crafted "
              f"crate: {len(found)} problems found" + ("" if ok else f": {found}"))
        if not ok:
            failures.append("check_unsafe.py")

        # The layering rule (check_layers.py) on a crafted tree: a cycle between two files
        # of the KPI crate, and the KPI crate naming the logic crate above it.
        import check_layers
        lay = t("layers")
        for sub in ("kpi/src", "logic/src", "src"):
            os.makedirs(os.path.join(lay, sub))
        with open(os.path.join(lay, "kpi/src/lib.rs"), "w") as f:
            f.write("pub mod a;\npub mod b;\n")
        with open(os.path.join(lay, "kpi/src/a.rs"), "w") as f:
            f.write("use crate::b::B;\npub struct A;\n")
        with open(os.path.join(lay, "kpi/src/b.rs"), "w") as f:
            f.write("use crate::a::A;\npub fn b() { carp_logic::go(); }\npub struct B;\n")
        with open(os.path.join(lay, "logic/src/lib.rs"), "w") as f:
            f.write("pub fn go() {}\n")
        with open(os.path.join(lay, "src/lib.rs"), "w") as f:
            f.write("")
        import contextlib, io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = check_layers.main([lay])
        out = buf.getvalue()
        ok = rc == 1 and "CYCLE: a <-> b" in out and "names carp_logic" in out
        ncases += 1
        print(f"  [{'ok  ' if ok else 'FAIL'}] layering rule (check_layers.py) on a crafted tree: "
              f"{'cycle and upward use found' if ok else out}")
        if not ok:
            failures.append("check_layers.py")

        never = [c for c in ALL if c not in caught]
        if never:
            failures.append(f"checks never shown to fail: {never}")
            print(f"  checks never shown to fail: {never}")

    print(f"negative artifact tests: {ncases - len(failures)}/{ncases} cases as expected; "
          f"every check shown to fail: {'yes' if not never else 'NO'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
