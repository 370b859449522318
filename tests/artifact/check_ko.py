#!/usr/bin/env python3
"""Artifact checks for carp.ko (FreeBSD 15 kernel module, amd64 or arm64).

    check_ko.py carp.ko              run every check, print a summary, exit 1 on any failure
    check_ko.py --summary carp.ko    print the one-screen summary only (used by `make`)
    check_ko.py --json carp.ko       machine-readable results (used by test_negative.py)

The architecture comes from CARP_ARCH (x86_64, the default, or aarch64): amd64 modules are
relocatable objects loaded by link_elf_obj.c, arm64 modules shared objects loaded by
link_elf.c (sys/conf/kmod.mk: __KLD_SHARED), and the checks follow each kernel linker.

Checks (ids as printed):
  elf-header         ELF64, little-endian; amd64: OS/ABI FreeBSD, ET_REL, x86-64; arm64:
                     ET_DYN, AArch64, PT_DYNAMIC, no PT_INTERP, program headers in the first
                     page, at most 4 PT_LOAD, page-aligned, the ELF header inside the first
                     PT_LOAD (loader(8) preloading), DT_HASH (link_elf.c needs it)
  sections-required  set_modmetadata_set, set_sysinit_set, set_sysuninit_set, set_sysctl_set
  sections-forbidden no .eh_frame, .llvmbc, .llvmcmd, .llvm_addrsig (by name or type), no
                     function-per-section explosion (.text.*)
  module-metadata    the modmetadata records (parsed with their relocations) declare module
                     "carp" (its moduledata names "carp"), a MODULE_VERSION for carp, and a
                     dependency on "kernel" within one 15.x branch
  relocations        amd64: only R_X86_64_64, PC32, PLT32, 32S (what FreeBSD's amd64 kernel
                     linker handles); arm64: only the dynamic relocations arm64's
                     elf_reloc_internal applies (ABS64, GLOB_DAT, JUMP_SLOT, RELATIVE,
                     IRELATIVE, NONE); only RELA sections
  no-fpu-simd        no FP/SIMD instruction or register in any executable section (amd64:
                     SSE/AVX/MMX/x87; arm64: v/q/d/s/h/b registers, FP instructions, FPCR/
                     FPSR) (llvm-objdump disassembly)
  reserved-registers arm64 only: x18 (the kernel's per-CPU pointer) is never written
  undefined-symbols  every undefined symbol is a linker-set bound (__start_set_*/__stop_set_*)
                     or a function/variable the FreeBSD headers in use declare extern
  kernel-shadowing   carp.ko defines no function/variable the kernel headers declare (e.g.
                     a libm `log` from compiler_builtins standing in for log(9))
  panic-paths        no Rust panic path survived optimisation: neither the never-defined
                     carp_rust_panic_path_reachable nor core's panic machinery is present

"Declared by the FreeBSD headers in use" is computed, not listed: the angle-bracket includes of
sys-bindings/wrapper.h and the C shim (CARP_DECL_SOURCES) are compiled with the kernel flags
(CARP_KERNEL_CFLAGS) by clang (CC_KERNEL) into a JSON AST, and every non-static FunctionDecl
and VarDecl located in a header of the kernel include directories is collected. The module's
own interface headers, netinet/ip_carp.h and ip_carp_nl.h, are special in one way: their
functions (carp_ioctl, carp_attach...) are implemented by the CARP module, never by the kernel,
so they do not justify an undefined symbol; their extern variables (carp_*_p hook pointers)
are the kernel's.

Standard library only (Python 3.9+); uses llvm-objdump (OBJDUMP) and clang (CC_KERNEL).
"""

import argparse
import collections
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import tempfile

# ----------------------------------------------------------------------------------------
# ELF constants

ELFOSABI_FREEBSD = 9
ET_REL = 1
ET_DYN = 3
EM_X86_64 = 62
EM_AARCH64 = 183
SHT_DYNSYM = 11
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_HASH = 0, 4
PAGE = 4096
SHT_SYMTAB = 2
SHT_RELA = 4
SHT_REL = 9
SHT_NOBITS = 8
SHT_LLVM_ADDRSIG = 0x6FFF4C03
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3

R_X86_64 = {
    0: "NONE", 1: "64", 2: "PC32", 3: "GOT32", 4: "PLT32", 5: "COPY", 6: "GLOB_DAT",
    7: "JUMP_SLOT", 8: "RELATIVE", 9: "GOTPCREL", 10: "32", 11: "32S", 12: "16", 13: "PC16",
    14: "8", 15: "PC8", 24: "PC64", 25: "GOTOFF64", 26: "GOTPC32", 41: "GOTPCRELX",
    42: "REX_GOTPCRELX",
}
ALLOWED_RELOCS = {1, 2, 4, 11}  # R_X86_64_64, PC32, PLT32, 32S

R_AARCH64 = {
    0: "NONE", 257: "ABS64", 258: "ABS32", 259: "ABS16", 260: "PREL64", 261: "PREL32",
    275: "ADR_PREL_PG_HI21", 277: "ADD_ABS_LO12_NC", 279: "TSTBR14", 280: "CONDBR19",
    282: "JUMP26", 283: "CALL26", 311: "ADR_GOT_PAGE", 312: "LD64_GOT_LO12_NC",
    1024: "COPY", 1025: "GLOB_DAT", 1026: "JUMP_SLOT", 1027: "RELATIVE", 1028: "TLS_DTPMOD",
    1029: "TLS_DTPREL", 1030: "TLS_TPREL", 1031: "TLSDESC", 1032: "IRELATIVE",
}
# sys/arm64/arm64/elf_machdep.c, elf_reloc_internal: what it applies (the branch types only
# ever appear in relocatable objects, which arm64 does not load).
ALLOWED_RELOCS_AARCH64 = {0, 257, 1025, 1026, 1027, 1032, 279, 280, 282, 283}
R_AARCH64_ABS64, R_AARCH64_RELATIVE = 257, 1027

ARCH = os.environ.get("CARP_ARCH", "x86_64")

MDT_DEPEND, MDT_MODULE, MDT_VERSION = 1, 2, 3
MDT_STRUCT_VERSION = 1

REQUIRED_SECTIONS = ["set_modmetadata_set", "set_sysinit_set", "set_sysuninit_set",
                     "set_sysctl_set"]
FORBIDDEN_SECTIONS = [".eh_frame", ".rela.eh_frame", ".llvmbc", ".llvmcmd", ".llvm_addrsig"]
MAX_TEXT_SECTIONS = 16

MODULE_NAME = "carp"
KERNEL_MAJOR = 15

PANIC_SYMBOL = "carp_rust_panic_path_reachable"
# Symbols (mangled, legacy or v0) of core's panic machinery and the panic handler.
PANIC_PATTERNS = [
    re.compile(r"9panicking"),          # core::panicking::{panic, panic_fmt, panic_bounds_check...}
    re.compile(r"rust_begin_unwind"),   # the #[panic_handler]
    re.compile(r"rust_panic"),
    re.compile(r"13unwrap_failed|13expect_failed"),
    re.compile(r"slice_(start|end)_index_len_fail|slice_index_order_fail|str_index_overflow_fail"),
    re.compile(r"handle_alloc_error|capacity_overflow|__rust_alloc_error_handler"),
]

LINKER_SET_BOUND = re.compile(r"^__(start|stop)_set_[A-Za-z0-9_]+$")

# x86 FPU/SIMD: registers and instructions that touch x87/MMX/SSE/AVX state.
FPU_REG = re.compile(r"%(?:[xyz]mm\d+|mm\d|st(?:\(\d\))?|k[0-7]|mxcsr)\b")
# Mnemonics that use FPU/SIMD state without necessarily naming such a register (x87 and
# AVX forms, MXCSR and FPU-state save/restore); everything else is caught by its registers.
FPU_MNEMONIC = re.compile(
    r"^(?:f[a-z0-9]*|emms|ldmxcsr|stmxcsr|fxsave\w*|fxrstor\w*|xsave\w*|xrstor\w*|"
    r"v(?!err|erw)[a-z0-9]+)$")
# arm64 FP/SIMD: the V register file under any of its names, and the FP control registers.
A64_FP_REG = re.compile(r"(?<![\w.])(?:[vqdshb]\d{1,2}(?:\.\w+)?|fpcr|fpsr)(?![\w])")
A64_FP_MNEMONIC = re.compile(r"^(?:f[a-z0-9.]+|[su]cvtf|ld[1-4]r?|st[1-4])$")
# Instructions whose first operand (x18 there) is read, not written.
A64_NO_DEST = re.compile(r"^(?:st\w*|cmp|cmn|tst|cb\w*|tb\w*|ccmp|ccmn|prfm|br|blr|ret|"
                         r"b\w*|msr|at|dc|ic|tlbi|sys)$")


class CheckError(Exception):
    pass


# ----------------------------------------------------------------------------------------
# Minimal ELF64 reader (relocatable objects only need sections, symbols and RELA entries).

Section = collections.namedtuple(
    "Section", "index name type flags addr offset size link info align entsize")
Symbol = collections.namedtuple("Symbol", "index name bind type other shndx value size")
Rela = collections.namedtuple("Rela", "offset sym type addend")


class Elf:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.path = path
        d = self.data
        if len(d) < 64 or d[:4] != b"\x7fELF":
            raise CheckError("not an ELF file")
        self.ei_class, self.ei_data, self.ei_osabi = d[4], d[5], d[7]
        if self.ei_class != 2:
            raise CheckError(f"ELF class {self.ei_class}, expected 2 (ELF64)")
        if self.ei_data != 1:
            raise CheckError(f"ELF data encoding {self.ei_data}, expected 1 (little-endian)")
        (self.e_type, self.e_machine, _ver, _entry, self.e_phoff, self.e_shoff, _flags, _ehsize,
         self.e_phentsize, self.e_phnum, self.e_shentsize, self.e_shnum, self.e_shstrndx) = \
            struct.unpack_from("<HHIQQQIHHHHHH", d, 16)
        # Program headers (a shared-object module has them).
        self.phdrs = []
        if self.e_phnum and self.e_phentsize == 56 and self.e_phoff + 56 * self.e_phnum <= len(d):
            for i in range(self.e_phnum):
                self.phdrs.append(struct.unpack_from("<IIQQQQQQ", d, self.e_phoff + 56 * i))
        if self.e_shentsize != 64 or self.e_shoff + 64 * self.e_shnum > len(d):
            raise CheckError("corrupt section header table")
        raw = []
        for i in range(self.e_shnum):
            raw.append(struct.unpack_from("<IIQQQQIIQQ", d, self.e_shoff + 64 * i))
        strtab = raw[self.e_shstrndx]
        self.sections = []
        for i, (name, typ, flags, addr, off, size, link, info, align, entsize) in enumerate(raw):
            self.sections.append(Section(i, self._str(strtab[4], name), typ, flags, addr, off,
                                         size, link, info, align, entsize))
        self.by_name = {s.name: s for s in self.sections}
        symtabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if len(symtabs) != 1:
            raise CheckError(f"{len(symtabs)} symbol tables, expected 1")
        self.symbols = self._symbols(symtabs[0])
        dynsyms = [s for s in self.sections if s.type == SHT_DYNSYM]
        self.dynsyms = self._symbols(dynsyms[0]) if dynsyms else []
        # Relocations per target section index; a shared object's dynamic relocations
        # (sh_info 0 or the PLT) are kept apart, by virtual address, with .dynsym symbols.
        self.relas = collections.defaultdict(list)
        self.dynrelas = []
        self.rel_sections = [s for s in self.sections if s.type in (SHT_RELA, SHT_REL)]
        for s in self.rel_sections:
            if s.type != SHT_RELA:
                continue
            dynamic = self.e_type == ET_DYN and (s.flags & SHF_ALLOC)
            for i in range(s.size // 24):
                off, info, addend = struct.unpack_from("<QQq", d, s.offset + 24 * i)
                r = Rela(off, info >> 32, info & 0xFFFFFFFF, addend)
                if dynamic:
                    self.dynrelas.append(r)
                else:
                    self.relas[s.info].append(r)
        self.dynamic = []
        for s in self.sections:
            if s.name == ".dynamic":
                for i in range(s.size // 16):
                    tag, val = struct.unpack_from("<qQ", d, s.offset + 16 * i)
                    if tag == DT_NULL:
                        break
                    self.dynamic.append((tag, val))

    def _symbols(self, st):
        out = []
        stroff = self.sections[st.link].offset
        for i in range(st.size // 24):
            name, info, other, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", self.data, st.offset + 24 * i)
            out.append(Symbol(i, self._str(stroff, name), info >> 4, info & 0xF,
                              other, shndx, value, size))
        return out

    def section_at(self, vaddr):
        """(section index, offset) of an address of a shared object's image."""
        for s in self.sections:
            if s.flags & SHF_ALLOC and s.size and s.addr <= vaddr < s.addr + s.size:
                return s.index, vaddr - s.addr
        return None

    def _str(self, base, off):
        end = self.data.index(b"\0", base + off)
        return self.data[base + off:end].decode("utf-8", "replace")

    def section_bytes(self, sec):
        if sec.type == SHT_NOBITS:
            return bytes(sec.size)
        return self.data[sec.offset:sec.offset + sec.size]

    def rela_at(self, secidx, offset):
        if self.e_type == ET_DYN:
            va = self.sections[secidx].addr + offset
            for r in self.dynrelas:
                if r.offset == va:
                    return r
            return None
        for r in self.relas.get(secidx, ()):
            if r.offset == offset:
                return r
        return None

    def resolve(self, secidx, offset):
        """The (section index, offset) a relocated pointer at (secidx, offset) points to."""
        r = self.rela_at(secidx, offset)
        if r is None:
            return None
        if self.e_type == ET_DYN:
            if r.type == R_AARCH64_RELATIVE:
                target = r.addend
            elif r.type == R_AARCH64_ABS64 and r.sym < len(self.dynsyms) and \
                    self.dynsyms[r.sym].shndx not in (SHN_UNDEF, SHN_ABS, SHN_COMMON):
                target = self.dynsyms[r.sym].value + r.addend
            else:
                raise CheckError(f"pointer at {self.sections[secidx].name}+{offset:#x} has "
                                 f"relocation R_AARCH64_{R_AARCH64.get(r.type, r.type)} "
                                 f"to a symbol outside the module, expected RELATIVE")
            where = self.section_at(target)
            if where is None:
                raise CheckError(f"pointer at {self.sections[secidx].name}+{offset:#x} "
                                 f"points outside the module ({target:#x})")
            return where
        if r.type != 1:
            raise CheckError(f"pointer at {self.sections[secidx].name}+{offset:#x} has "
                             f"relocation R_X86_64_{R_X86_64.get(r.type, r.type)}, expected 64")
        sym = self.symbols[r.sym]
        if sym.shndx in (SHN_UNDEF, SHN_ABS, SHN_COMMON) or sym.shndx >= len(self.sections):
            raise CheckError(f"pointer at {self.sections[secidx].name}+{offset:#x} refers to "
                             f"{sym.name or '?'} outside the module")
        return sym.shndx, sym.value + r.addend

    def read(self, secidx, offset, fmt):
        sec = self.sections[secidx]
        n = struct.calcsize(fmt)
        if offset < 0 or offset + n > sec.size:
            raise CheckError(f"read of {n} bytes at {sec.name}+{offset:#x} out of bounds")
        return struct.unpack_from(fmt, self.section_bytes(sec), offset)

    def cstring(self, secidx, offset):
        b = self.section_bytes(self.sections[secidx])
        if not 0 <= offset < len(b):
            raise CheckError("string pointer out of bounds")
        end = b.find(b"\0", offset)
        if end < 0:
            raise CheckError("unterminated string")
        return b[offset:end].decode("utf-8", "replace")


# ----------------------------------------------------------------------------------------
# Module metadata (sys/module.h):
#   struct mod_metadata { int md_version; int md_type; const void *md_data; const char *md_cval; }
#   struct mod_depend   { int md_ver_minimum, md_ver_preferred, md_ver_maximum; }
#   struct mod_version  { int mv_version; }
#   moduledata_t        { const char *name; modeventhand_t evhand; void *priv; }

def parse_modmetadata(elf):
    sec = elf.by_name.get("set_modmetadata_set")
    if sec is None:
        raise CheckError("no set_modmetadata_set section")
    if sec.size == 0 or sec.size % 8:
        raise CheckError(f"set_modmetadata_set has size {sec.size}, not a pointer array")
    records = []
    for slot in range(0, sec.size, 8):
        target = elf.resolve(sec.index, slot)
        if target is None:
            raise CheckError(f"set_modmetadata_set[{slot // 8}] has no relocation")
        ms, mo = target
        md_version, md_type = elf.read(ms, mo, "<ii")
        if md_version != MDT_STRUCT_VERSION:
            raise CheckError(f"mod_metadata version {md_version}, expected {MDT_STRUCT_VERSION}")
        cval_t = elf.resolve(ms, mo + 16)
        cval = elf.cstring(*cval_t) if cval_t else None
        data_t = elf.resolve(ms, mo + 8)
        rec = {"type": md_type, "cval": cval}
        if md_type == MDT_DEPEND:
            if data_t is None:
                raise CheckError("MDT_DEPEND without data")
            rec["min"], rec["pref"], rec["max"] = elf.read(*data_t, "<iii")
        elif md_type == MDT_VERSION:
            if data_t is None:
                raise CheckError("MDT_VERSION without data")
            (rec["version"],) = elf.read(*data_t, "<i")
        elif md_type == MDT_MODULE:
            if data_t is None:
                raise CheckError("MDT_MODULE without moduledata")
            name_t = elf.resolve(data_t[0], data_t[1])
            rec["modname"] = elf.cstring(*name_t) if name_t else None
            rec["has_evhand"] = elf.rela_at(data_t[0], data_t[1] + 8) is not None
        records.append(rec)
    return records


def check_metadata(records):
    problems = []
    mods = [r for r in records if r["type"] == MDT_MODULE]
    if [r["cval"] for r in mods] != [MODULE_NAME]:
        problems.append(f"modules declared: {[r['cval'] for r in mods]}, expected ['{MODULE_NAME}']")
    for r in mods:
        if r.get("modname") != MODULE_NAME:
            problems.append(f"moduledata name {r.get('modname')!r}, expected {MODULE_NAME!r}")
        if not r.get("has_evhand"):
            problems.append("moduledata has no event handler")
    vers = [r for r in records if r["type"] == MDT_VERSION and r["cval"] == MODULE_NAME]
    if len(vers) != 1 or vers[0]["version"] < 1:
        problems.append(f"MODULE_VERSION({MODULE_NAME}) records: {vers}")
    kdeps = [r for r in records if r["type"] == MDT_DEPEND and r["cval"] == "kernel"]
    if len(kdeps) != 1:
        problems.append(f"{len(kdeps)} dependencies on 'kernel', expected 1")
    for r in kdeps:
        lo, hi = KERNEL_MAJOR * 100000, KERNEL_MAJOR * 100000 + 99999
        if not (lo <= r["min"] <= r["pref"] <= r["max"] <= hi):
            problems.append(f"kernel dependency {r['min']}/{r['pref']}/{r['max']} is not "
                            f"within {KERNEL_MAJOR}.x ({lo}..{hi})")
    for r in records:
        if r["type"] not in (MDT_DEPEND, MDT_MODULE, MDT_VERSION):
            problems.append(f"unknown metadata type {r['type']}")
    return problems


# ----------------------------------------------------------------------------------------
# Kernel declarations from the headers in use.

def angle_includes(paths):
    """Angle-bracket includes of the given files (in order, deduplicated), following quoted
    includes of project headers that sit next to the including file or in CARP_SHIM_DIR."""
    shim_dir = os.environ.get("CARP_SHIM_DIR", "")
    out, seen_files = [], set()

    def visit(path):
        path = os.path.realpath(path)
        if path in seen_files:
            return
        seen_files.add(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"\s*#\s*include\s*([<\"])([^>\"]+)[>\"]", line)
                if not m:
                    continue
                if m.group(1) == "<":
                    if m.group(2) not in out:
                        out.append(m.group(2))
                    continue
                for d in (os.path.dirname(path), shim_dir):
                    cand = os.path.join(d, m.group(2))
                    if d and os.path.exists(cand):
                        visit(cand)
                        break

    for p in paths:
        visit(p)
    return out


def kernel_declarations(cflags, sources, cc):
    """{name: (kind, own_interface)} for every extern function/variable the kernel headers
    included by `sources` declare. kind is 'function' or 'variable'."""
    args = shlex.split(cflags)
    incdirs = set()
    for i, a in enumerate(args):
        d = None
        if a in ("-isystem", "-I") and i + 1 < len(args):
            d = args[i + 1]
        elif a.startswith(("-I", "-isystem")) and a not in ("-I", "-isystem"):
            d = a[2:] if a.startswith("-I") else a[len("-isystem"):]
        if d:
            # Both spellings: clang reports paths as found (e.g. through build/ck symlinks).
            incdirs.add(os.path.abspath(d))
            incdirs.add(os.path.realpath(d))
    headers = angle_includes(sources)
    if len(headers) < 5:
        raise CheckError(f"only {len(headers)} kernel headers found in {sources}")
    with tempfile.TemporaryDirectory() as tmp:
        tu = os.path.join(tmp, "kernel_headers.c")
        with open(tu, "w") as f:
            f.write("".join(f"#include <{h}>\n" for h in headers))
        proc = subprocess.run([cc, *args, "-fsyntax-only", "-Xclang", "-ast-dump=json", tu],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise CheckError("clang could not parse the kernel headers:\n"
                             + proc.stderr.decode(errors="replace")[-2000:])
    ast = json.loads(proc.stdout)

    # clang's JSON dump prints a location's "file" only when it differs from the previously
    # printed one, so the current file is tracked in document order ("includedFrom" is not
    # part of that chain).
    state = {"file": None}

    def walk(obj):
        stack = [obj]
        while stack:
            o = stack.pop()
            if isinstance(o, dict):
                if "file" in o and isinstance(o["file"], str):
                    state["file"] = o["file"]
                stack.extend(reversed([v for k, v in o.items()
                                       if k != "includedFrom" and isinstance(v, (dict, list))]))
            elif isinstance(o, list):
                stack.extend(reversed(o))

    def in_kernel_headers(path):
        paths = {os.path.abspath(path), os.path.realpath(path)}
        return any(p.startswith(d + os.sep) for p in paths for d in incdirs)

    decls = {}
    for node in ast.get("inner", []):
        walk(node.get("loc", {}))
        where = state["file"]
        walk({k: v for k, v in node.items() if k != "loc"})
        kind = node.get("kind")
        if kind not in ("FunctionDecl", "VarDecl") or node.get("isImplicit"):
            continue
        if node.get("storageClass") == "static" or not where or not in_kernel_headers(where):
            continue
        own = os.path.basename(where) in ("ip_carp.h", "ip_carp_nl.h") and \
            os.path.basename(os.path.dirname(where)) == "netinet"
        name = node.get("name")
        if name:
            prev = decls.get(name)
            entry = ("function" if kind == "FunctionDecl" else "variable", own)
            # A name declared outside carp's own headers anywhere counts as the kernel's.
            if prev is None or (prev[1] and not own):
                decls[name] = entry
    if len(decls) < 500:
        raise CheckError(f"only {len(decls)} kernel declarations found; header parse broken?")
    return decls, headers


# ----------------------------------------------------------------------------------------
# Checks

Result = collections.namedtuple("Result", "id ok problems")


def check_ids(arch=None):
    """The checks run for an architecture, in order."""
    ids = ["elf-header", "sections-required", "sections-forbidden", "module-metadata",
           "relocations", "no-fpu-simd"]
    if (arch or ARCH) == "aarch64":
        ids.append("reserved-registers")
    return ids + ["undefined-symbols", "kernel-shadowing", "panic-paths"]


def aarch64_features(elf):
    """GNU_PROPERTY_AARCH64_FEATURE_1_AND of .note.gnu.property (0 if absent)."""
    sec = elf.by_name.get(".note.gnu.property")
    if sec is None:
        return 0
    b = elf.section_bytes(sec)
    off = 0
    while off + 12 <= len(b):
        namesz, descsz, ntype = struct.unpack_from("<III", b, off)
        name = b[off + 12:off + 12 + namesz]
        desc_off = off + 12 + ((namesz + 3) & ~3)
        if ntype == 5 and name.rstrip(b"\0") == b"GNU":
            p = desc_off
            while p + 8 <= desc_off + descsz:
                pr_type, pr_size = struct.unpack_from("<II", b, p)
                if pr_type == 0xC0000000 and pr_size >= 4:
                    return struct.unpack_from("<I", b, p + 8)[0]
                p += 8 + ((pr_size + 7) & ~7)
        off = desc_off + ((descsz + 7) & ~7)
    return 0


def header_problems_aarch64(elf):
    hdr = []
    if elf.e_type != ET_DYN:
        hdr.append(f"type {elf.e_type}, expected {ET_DYN} (ET_DYN: arm64 modules are shared "
                   f"objects, link_elf.c)")
    if elf.e_machine != EM_AARCH64:
        hdr.append(f"machine {elf.e_machine}, expected {EM_AARCH64} (AArch64)")
    types = [p[0] for p in elf.phdrs]
    if PT_DYNAMIC not in types:
        hdr.append("no PT_DYNAMIC (link_elf.c: \"Object is not dynamically-linked\")")
    if PT_INTERP in types:
        hdr.append("PT_INTERP present (link_elf.c refuses it)")
    if elf.e_phoff + 56 * elf.e_phnum > PAGE:
        hdr.append("program headers beyond the first page")
    loads = [p for p in elf.phdrs if p[0] == PT_LOAD]
    if not loads or len(loads) > 4:
        hdr.append(f"{len(loads)} PT_LOAD segments, expected 1 to 4")
    for p in loads:
        (_t, _f, off, va, _pa, _fs, _ms, align) = p
        if align % PAGE or (va - off) % PAGE:
            hdr.append(f"PT_LOAD at {va:#x} not page-aligned (align {align:#x})")
    if loads and loads[0][2] != 0:
        hdr.append("the ELF header is not inside the first PT_LOAD (a module preloaded by "
                   "loader(8) would not find it)")
    # BTI landing pads and PAC (kern.mk's -mbranch-protection=standard): on a CPU with BTI,
    # the kernel maps module text as guarded pages, where an indirect branch to code
    # without a landing pad faults. lld sets the property only if every input has it.
    feats = aarch64_features(elf)
    if feats & 3 != 3:
        hdr.append(f"GNU property AArch64 features {feats:#x}, expected BTI and PAC (0x3): "
                   f"some input was built without branch protection")
    if not any(t == DT_HASH for t, _ in elf.dynamic):
        hdr.append("no DT_HASH (link_elf.c: \"missing symbol hash table\"; link with "
                   "--hash-style=sysv)")
    return hdr


def fpu_problems(path, elf, objdump, arch):
    """FP/SIMD use in the executable sections, from llvm-objdump's disassembly."""
    fpu, x18 = [], []
    exec_secs = [s for s in elf.sections if s.flags & SHF_EXECINSTR and s.size]
    machine = EM_AARCH64 if arch == "aarch64" else EM_X86_64
    # Only code of the expected architecture can be judged: another e_machine (already an
    # elf-header failure) would be disassembled as that architecture.
    if not exec_secs or elf.e_machine != machine:
        return fpu, x18
    cmd = [objdump, "-d", "--no-show-raw-insn", "--no-leading-addr", path]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        fpu.append("llvm-objdump failed: " + proc.stderr.decode(errors="replace")[-500:])
    ninsn = 0
    for line in proc.stdout.decode(errors="replace").splitlines():
        parts = line.strip().split(None, 1)
        if not parts or line.endswith(":") or line.startswith(("Disassembly", path)):
            continue
        if not line.startswith((" ", "\t")):
            continue
        ninsn += 1
        mnem = parts[0]
        if arch == "aarch64":
            ops = re.sub(r"<[^>]*>", "", parts[1] if len(parts) > 1 else "")
            ops = ops.split("//")[0].lower()
            if A64_FP_MNEMONIC.match(mnem) or A64_FP_REG.search(ops):
                fpu.append(line.strip())
            regs = [o.strip() for o in ops.split(",")]
            ndest = 2 if mnem.startswith(("ldp", "ldnp", "ldxp", "ldaxp", "ldpsw")) else 1
            dest = [r for r in regs[:ndest]]
            writes = (any(r in ("x18", "w18") for r in dest) and not A64_NO_DEST.match(mnem)) \
                or re.search(r"\[x18[^\]]*\]!|\[x18\],", ops)
            if writes:
                x18.append(line.strip())
            continue
        if mnem in ("lock", "rep", "repne", "repe", "data16", "notrack") and len(parts) > 1:
            parts = parts[1].split(None, 1)
            mnem = parts[0]
        ops = parts[1] if len(parts) > 1 else ""
        if FPU_MNEMONIC.match(mnem) or FPU_REG.search(ops):
            fpu.append(line.strip())
    if ninsn == 0 and not fpu:
        fpu.append("disassembly produced no instructions")
    return fpu, x18


def run_checks(path, decl_info=None, objdump="llvm-objdump", arch=None):
    arch = arch or ARCH
    results = []

    def add(cid, problems):
        results.append(Result(cid, not problems, problems))

    try:
        elf = Elf(path)
    except CheckError as e:
        add("elf-header", [str(e)])
        return results, None
    hdr = []
    if arch == "aarch64":
        # link_elf.c does not look at EI_OSABI (lld's aarch64elf emulation leaves it 0).
        hdr = header_problems_aarch64(elf)
    else:
        if elf.ei_osabi != ELFOSABI_FREEBSD:
            hdr.append(f"OS/ABI {elf.ei_osabi}, expected {ELFOSABI_FREEBSD} (FreeBSD)")
        if elf.e_type != ET_REL:
            hdr.append(f"type {elf.e_type}, expected {ET_REL} (ET_REL)")
        if elf.e_machine != EM_X86_64:
            hdr.append(f"machine {elf.e_machine}, expected {EM_X86_64} (x86-64)")
    add("elf-header", hdr)

    add("sections-required", [f"missing section {n}" for n in REQUIRED_SECTIONS
                              if n not in elf.by_name])

    forb = [f"forbidden section {s.name}" for s in elf.sections
            if s.name in FORBIDDEN_SECTIONS or s.type == SHT_LLVM_ADDRSIG]
    ntext = sum(1 for s in elf.sections if s.name.startswith(".text"))
    if ntext > MAX_TEXT_SECTIONS:
        forb.append(f"{ntext} .text* sections (function sections?), at most {MAX_TEXT_SECTIONS}")
    add("sections-forbidden", forb)

    try:
        records = parse_modmetadata(elf)
        add("module-metadata", check_metadata(records))
    except CheckError as e:
        records = []
        add("module-metadata", [str(e)])

    rel = []
    counts = collections.Counter()
    for s in elf.rel_sections:
        if s.type == SHT_REL:
            rel.append(f"{s.name}: SHT_REL section (FreeBSD modules use RELA)")
    if arch == "aarch64":
        for r in elf.dynrelas:
            counts[r.type] += 1
            if r.type not in ALLOWED_RELOCS_AARCH64:
                sym = elf.dynsyms[r.sym].name if r.sym < len(elf.dynsyms) else "?"
                rel.append(f"R_AARCH64_{R_AARCH64.get(r.type, r.type)} at {r.offset:#x} ({sym})")
        for secidx, relas in elf.relas.items():
            if elf.sections[secidx].flags & SHF_ALLOC:
                rel.append(f"{len(relas)} static relocation(s) against "
                           f"{elf.sections[secidx].name} in a shared object")
    else:
        for secidx, relas in elf.relas.items():
            for r in relas:
                counts[r.type] += 1
                if r.type not in ALLOWED_RELOCS:
                    sym = elf.symbols[r.sym].name if r.sym < len(elf.symbols) else "?"
                    rel.append(f"R_X86_64_{R_X86_64.get(r.type, r.type)} at "
                               f"{elf.sections[secidx].name}+{r.offset:#x} ({sym})")
    add("relocations", rel[:20] + ([f"... {len(rel) - 20} more"] if len(rel) > 20 else []))

    fpu, x18 = fpu_problems(path, elf, objdump, arch)
    add("no-fpu-simd", fpu[:20] + ([f"... {len(fpu) - 20} more"] if len(fpu) > 20 else []))
    if arch == "aarch64":
        add("reserved-registers", [f"writes x18 (the per-CPU pointer): {x}" for x in x18[:20]])

    undef = sorted({s.name for s in elf.symbols[1:] if s.shndx == SHN_UNDEF and s.name})
    defined = sorted({s.name for s in elf.symbols[1:]
                      if s.shndx != SHN_UNDEF and s.type in (STT_FUNC, STT_OBJECT, STT_NOTYPE)
                      and s.name})
    if decl_info is None:
        add("undefined-symbols", ["kernel declarations unavailable (CARP_KERNEL_CFLAGS unset)"])
        add("kernel-shadowing", ["kernel declarations unavailable (CARP_KERNEL_CFLAGS unset)"])
    else:
        decls = decl_info
        bad = []
        for n in undef:
            if LINKER_SET_BOUND.match(n):
                continue
            d = decls.get(n)
            if d is None:
                bad.append(f"{n}: not declared by the kernel headers in use")
            elif d[1] and d[0] == "function":
                bad.append(f"{n}: declared in netinet/ip_carp*.h, i.e. implemented by CARP "
                           f"itself, not by the kernel")
        add("undefined-symbols", bad)
        shadow = []
        for n in defined:
            # A shared-object module defines its own linker-set bounds (lld makes them;
            # link_elf.c looks them up in the module), which the kernel also declares.
            if elf.e_type == ET_DYN and LINKER_SET_BOUND.match(n):
                continue
            d = decls.get(n)
            if d is not None and not (d[1] and d[0] == "function"):
                shadow.append(f"{n}: defined in carp.ko but declared by the kernel headers "
                              f"({d[0]}); calls would not reach the kernel's")
        add("kernel-shadowing", shadow)

    pan = []
    if PANIC_SYMBOL in undef or PANIC_SYMBOL in defined:
        pan.append(f"{PANIC_SYMBOL} is referenced: a panic path survived optimisation")
    for s in elf.symbols[1:]:
        if s.name and s.name != PANIC_SYMBOL and any(p.search(s.name) for p in PANIC_PATTERNS):
            pan.append(f"panic machinery symbol present: {s.name}")
    add("panic-paths", pan[:20])
    return results, (elf, records, undef, counts, arch)


# ----------------------------------------------------------------------------------------
# Output

def summary(path, info):
    elf, records, undef, counts, arch = info
    out = []
    size = os.path.getsize(path)
    out.append(f"{path}: {size} bytes ({size / 1024:.1f} KiB), ELF64 "
               f"{'FreeBSD' if elf.ei_osabi == ELFOSABI_FREEBSD else f'OS/ABI {elf.ei_osabi}'} "
               f"{ {ET_REL: 'REL', ET_DYN: 'DYN (shared object)'}.get(elf.e_type, elf.e_type)} "
               f"{ {EM_X86_64: 'x86-64', EM_AARCH64: 'AArch64'}.get(elf.e_machine, elf.e_machine)}")
    for r in records:
        if r["type"] == MDT_MODULE:
            out.append(f"  module   {r['cval']} (moduledata \"{r.get('modname')}\")")
        elif r["type"] == MDT_VERSION:
            out.append(f"  version  {r['cval']} {r['version']}")
        elif r["type"] == MDT_DEPEND:
            out.append(f"  depends  {r['cval']} {r['min']} (preferred {r['pref']}, max {r['max']})")
    secs = [s for s in elf.sections if s.flags & SHF_ALLOC]
    nonalloc = [s.name for s in elf.sections[1:] if not s.flags & SHF_ALLOC
                and s.type not in (SHT_RELA, SHT_REL)]
    nrel = sum(1 for s in elf.sections if s.type in (SHT_RELA, SHT_REL))
    out += wrap(f"  sections: {len(elf.sections) - 1}; allocated (bytes): ",
                [f"{s.name} {s.size}" for s in secs], ", ")
    out += wrap("    not allocated: ", nonalloc + [f"{nrel} .rela*"], ", ")
    text = sum(s.size for s in secs if s.flags & SHF_EXECINSTR)
    data = sum(s.size for s in secs if not s.flags & SHF_EXECINSTR)
    out.append(f"  code {text} bytes, data/rodata/sets {data} bytes")
    if arch == "aarch64":
        out += wrap("  dynamic relocations: ", [f"R_AARCH64_{R_AARCH64.get(t, t)} {n}"
                                                for t, n in sorted(counts.items())], ", ")
    else:
        out += wrap("  relocations: ", [f"R_X86_64_{R_X86_64.get(t, t)} {n}"
                                        for t, n in sorted(counts.items())], ", ")
    glob = [s.name for s in elf.symbols[1:]
            if s.shndx != SHN_UNDEF and s.bind != STB_LOCAL and s.name]
    out.append(f"  defined global symbols: {len(glob)}" + (f" ({', '.join(glob[:8])})" if glob else ""))
    sets = [n for n in undef if LINKER_SET_BOUND.match(n)]
    other = [n for n in undef if not LINKER_SET_BOUND.match(n)]
    out.append(f"  undefined: {len(other)} kernel symbols + {len(sets)} linker-set bounds")
    if other:
        out += wrap("    ", other, " ")
    return "\n".join(out)


def wrap(first, items, sep, width=96):
    """Lines starting with `first`, then items joined by `sep`, wrapped and indented."""
    lines, line = [], first
    indent = " " * 4
    for i, item in enumerate(items):
        piece = item + (sep.rstrip() if i + 1 < len(items) else "")
        if len(line) + len(piece) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece + (" " if sep.endswith(" ") or sep == " " else "")
    lines.append(line.rstrip())
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ko")
    ap.add_argument("--summary", action="store_true", help="print the summary only")
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    a = ap.parse_args()

    objdump = os.environ.get("OBJDUMP", "llvm-objdump-14")
    if a.summary:
        try:
            results, info = run_checks(a.ko, decl_info={}, objdump=objdump)
        except CheckError as e:
            print(f"{a.ko}: {e}")
            return 1
        if info is None:
            print(f"{a.ko}: {results[0].problems}")
            return 1
        print(summary(a.ko, info))
        return 0

    cflags = os.environ.get("CARP_KERNEL_CFLAGS", "")
    sources = os.environ.get("CARP_DECL_SOURCES", "").split()
    cc = os.environ.get("CC_KERNEL", "clang-14")
    decls = None
    decl_note = ""
    if cflags and sources:
        cache = os.environ.get("CARP_DECL_CACHE")
        if cache and os.path.exists(cache):
            with open(cache) as f:
                decls = {k: tuple(v) for k, v in json.load(f).items()}
        else:
            decls, headers = kernel_declarations(cflags, sources, cc)
            decl_note = f"{len(decls)} extern declarations from {len(headers)} kernel headers"
            if cache:
                with open(cache, "w") as f:
                    json.dump(decls, f)
    results, info = run_checks(a.ko, decls, objdump)
    if a.json:
        print(json.dumps({r.id: {"ok": r.ok, "problems": r.problems} for r in results}))
        return 0 if all(r.ok for r in results) else 1
    if info is not None:
        print(summary(a.ko, info))
    if decl_note:
        print(f"  (declarations: {decl_note})")
    failed = 0
    for r in results:
        print(f"  [{'PASS' if r.ok else 'FAIL'}] {r.id}")
        for p in r.problems:
            print(f"         {p}")
        failed += not r.ok
    print(f"artifact checks: {len(results) - failed}/{len(results)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
