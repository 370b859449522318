#!/usr/bin/env python3
"""The kernel-harness suite: every script, the loader's refusals, the mutation checks
and the fault-injection sweep, against one carp.ko (make harness-test KO=...).

Exit status 0 only when every part passed:
  scripts     every tests/kernel/scripts/*.kh passes (virtual clock), and
              scripts/realtime/*.kh on the wall clock (--real-time);
  loader      damaged copies of the module (wrong OS/ABI, type, machine, a relocation
              the kernel linker refuses, one that does not fit, undefined symbols, a
              kernel dependency the simulated kernel does not meet, a truncated file)
              are refused with the right message and no crash;
  mutants     copies of the module with one function made to return at once (protocol
              input, the netlink SET handler, the callout, ...) must make the suite FAIL:
              a suite that passes with a do-nothing module proves nothing;
  faults      each script once per fallible allocation the module makes (--fault N):
              no crash, no kernel check failure, no leak, a failed system call changes
              nothing and the command works when repeated.
"""
import argparse
import concurrent.futures as cf
import os
import re
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")

# Functions of carp.ko replaced by "xor eax,eax; ret" (return 0 / NULL / nothing).
MUTANTS = [
    ("carp_rs_input4", "IPv4 protocol 112 input returns at once"),
    ("carp_rs_input6", "IPv6 protocol 112 input returns at once"),
    ("carp_rs_nl_set", "the netlink SET handler returns success without acting"),
    ("carp_rs_nl_get", "the netlink GET handler returns without replying"),
    ("carp_rs_callout", "the advertisement / master-down timer does nothing"),
    ("carp_rs_ioctl", "SIOCSVH/SIOCGVH return success without acting"),
    ("carp_rs_attach", "an address with a vhid is accepted but never bound"),
    ("carp_rs_detach", "an address is removed without unbinding it"),
    ("carp_rs_linkstate", "link state changes are ignored"),
    ("carp_rs_iamatch", "ARP for a CARP address is never answered"),
    ("carp_rs_iamatch6", "neighbour solicitations for a CARP address are never answered"),
    ("carp_rs_macmatch6", "neighbour advertisements name the parent's MAC"),
    ("carp_rs_arp_pfil", "ARP for carpN addresses is never answered"),
    ("carp_rs_ifnet_event", "routes the kernel adds when an interface comes up stay on a BACKUP"),
    ("carp_rs_ifnet_departure", "a departing interface keeps its CARP container"),
    ("carp_rs_forus", "frames to the virtual MAC are not accepted"),
    ("carp_rs_demote_adj", "demotion adjustments are ignored"),
    ("carp_kpi_send", "advertisements are never sent"),
    ("carp_kpi_garp", "no gratuitous ARP on becoming MASTER"),
    ("carp_kpi_devctl", "no devd events"),
    ("carp_rs_clone_create", "ifconfig carpN create does nothing"),
    ("carp_rs_unload", "MOD_UNLOAD tears nothing down"),
]


# ---------------------------------------------------------------- ELF patching


class Elf:
    """Just enough of ELF64 (little-endian) to patch a relocatable object."""

    def __init__(self, data):
        self.d = bytearray(data)
        (self.shoff,) = struct.unpack_from("<Q", self.d, 0x28)
        self.shentsize, self.shnum, self.shstrndx = struct.unpack_from("<HHH", self.d, 0x3A)
        self.sections = []
        for i in range(self.shnum):
            o = self.shoff + i * self.shentsize
            name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from(
                "<IIQQQQIIQQ", self.d, o
            )
            self.sections.append(dict(name=name, type=typ, off=off, size=size, link=link, entsize=entsize, hdr=o))
        shs = self.sections[self.shstrndx]
        for s in self.sections:
            s["sname"] = self.cstr(shs["off"] + s["name"])

    def cstr(self, off):
        end = self.d.index(0, off)
        return self.d[off:end].decode("latin-1")

    def symbols(self):
        """(index, name, name_offset, shndx, value, size) of the symbol table."""
        st = next(s for s in self.sections if s["type"] == 2)
        strtab = self.sections[st["link"]]
        out = []
        for i in range(st["size"] // 24):
            o = st["off"] + i * 24
            name, info, other, shndx, value, size = struct.unpack_from("<IBBHQQ", self.d, o)
            out.append((i, self.cstr(strtab["off"] + name), strtab["off"] + name, shndx, value, size))
        return out

    def func_offset(self, name):
        for _i, n, _no, shndx, value, _size in self.symbols():
            if n == name and 0 < shndx < 0xFF00:
                return self.sections[shndx]["off"] + value
        raise KeyError(name)

    def relas(self):
        for s in self.sections:
            if s["type"] == 4:  # SHT_RELA
                for i in range(s["size"] // 24):
                    yield s["off"] + i * 24


def patched(ko, out, fn):
    e = Elf(open(ko, "rb").read())
    fn(e)
    with open(out, "wb") as f:
        f.write(e.d)
    return out


def loader_cases(ko, d):
    """(file, what, expected message fragment)."""
    cases = []

    def add(name, what, expect, fn):
        cases.append((patched(ko, os.path.join(d, name), fn), what, expect))

    add("osabi.ko", "OS/ABI System V instead of FreeBSD", "not a FreeBSD object",
        lambda e: e.d.__setitem__(7, 0))
    add("type.ko", "ET_DYN instead of ET_REL", "not ET_REL",
        lambda e: struct.pack_into("<H", e.d, 16, 3))
    add("machine.ko", "aarch64 instead of x86-64", "Unsupported machine 183",
        lambda e: struct.pack_into("<H", e.d, 18, 183))

    def gotpcrel(e):
        o = next(e.relas())
        (info,) = struct.unpack_from("<Q", e.d, o + 8)
        struct.pack_into("<Q", e.d, o + 8, (info & ~0xFFFFFFFF) | 9)

    add("reloc-type.ko", "an R_X86_64_GOTPCREL relocation", "unexpected relocation type 9", gotpcrel)

    def overflow(e):
        # The first PC32/PLT32 relocation to a kernel symbol gets an addend that
        # cannot fit in 32 bits.
        for o in e.relas():
            (info,) = struct.unpack_from("<Q", e.d, o + 8)
            if info & 0xFFFFFFFF in (2, 4):
                struct.pack_into("<q", e.d, o + 16, 0x7FFFFFFF00)
                return
        raise RuntimeError("no PC32 relocation")

    add("reloc-overflow.ko", "a PC32 relocation that does not fit", "does not fit", overflow)

    def undefined(e):
        n = 0
        for _i, name, noff, shndx, _v, _s in e.symbols():
            if shndx == 0 and name in ("callout_reset_sbt_on", "ifpromisc"):
                e.d[noff] = ord("X")
                n += 1
        if n != 2:
            raise RuntimeError("symbols to rename not found")

    add("undefined.ko", "two undefined symbols the kernel lacks", "2 undefined symbol(s) the kernel does not provide: Xallout_reset_sbt_on Xfpromisc", undefined)

    def kernel_dep(e):
        # MODULE_DEPEND(carp, kernel, ...): minimum version above the running kernel.
        off = e.func_offset("_carp_depend_on_kernel")
        struct.pack_into("<iii", e.d, off, 1600000, 1600000, 1699999)

    add("kernel-version.ko", "MODULE_DEPEND on kernel 16", "version mismatch", kernel_dep)
    t = os.path.join(d, "truncated.ko")
    with open(ko, "rb") as f, open(t, "wb") as g:
        g.write(f.read()[:4096])
    cases.append((t, "a truncated file", ""))
    n = os.path.join(d, "notelf.ko")
    with open(n, "wb") as g:
        g.write(b"#!/bin/sh\necho not a module\n")
    cases.append((n, "not an ELF file", "not an ELF file"))
    return cases


def mutant(ko, d, sym):
    out = os.path.join(d, f"mutant-{sym}.ko")

    def fn(e):
        off = e.func_offset(sym)
        e.d[off:off + 3] = b"\x31\xc0\xc3"

    return patched(ko, out, fn)


# ---------------------------------------------------------------- running


class Runner:
    def __init__(self, a):
        self.a = a
        self.failures = []
        self.lines = []

    def kh(self, args, timeout=300):
        cmd = [self.a.kharness] + args
        if self.a.valgrind:
            cmd = ["valgrind", "-q", "--error-exitcode=9", "--leak-check=no",
                   "--track-origins=yes"] + cmd
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = -999, f"timed out after {timeout} s\n{(e.stdout or b'')[-2000:]!r}"
        return rc, out, time.monotonic() - t0

    def script_args(self, script, ko, out_sub):
        outdir = os.path.join(self.a.out, out_sub)
        args = ["--ko", ko, "--out", outdir, "--carpdump", self.a.carpdump]
        if self.a.tshark and shutil.which("tshark"):
            args.append("--tshark")
        if os.path.basename(os.path.dirname(script)) == "realtime":
            args.append("--real-time")
        return args + [script]

    def fail(self, what, detail=""):
        self.failures.append(what)
        print(f"FAIL {what}")
        if detail:
            print("     " + detail.rstrip().replace("\n", "\n     "))

    def scripts(self):
        found = sorted(
            os.path.join(SCRIPTS, f) for f in os.listdir(SCRIPTS) if f.endswith(".kh")
        )
        rt = os.path.join(SCRIPTS, "realtime")
        if os.path.isdir(rt):
            found += sorted(os.path.join(rt, f) for f in os.listdir(rt) if f.endswith(".kh"))
        if self.a.only:
            found = [s for s in found if any(o in s for o in self.a.only)]
        return found

    def run_scripts(self, ko, label="scripts", quiet=False, realtime=True):
        """Runs every script against ko; returns {script: (rc, out)}."""
        res = {}
        todo = [s for s in self.scripts() if realtime or os.path.basename(os.path.dirname(s)) != "realtime"]
        if self.a.valgrind:  # the wall clock under valgrind's slowdown tells nothing
            todo = [s for s in todo if os.path.basename(os.path.dirname(s)) != "realtime"]
        with cf.ThreadPoolExecutor(self.a.jobs) as ex:
            futs = {ex.submit(self.kh, self.script_args(s, ko, label)): s for s in todo}
            for f in cf.as_completed(futs):
                s = futs[f]
                rc, out, dt = f.result()
                res[s] = (rc, out)
                if not quiet:
                    name = os.path.relpath(s, HERE)
                    if rc == 0:
                        print(f"ok   {name} ({dt:.2f} s)")
                    else:
                        tail = "\n".join(l for l in out.splitlines() if "FAIL" in l or "kharness:" in l)
                        self.fail(name, tail or out[-3000:])
        return res

    def run_loader(self, d):
        for path, what, expect in loader_cases(self.a.ko, d):
            rc, out, _ = self.kh(["--check-load", path])
            if rc != 1 or (expect and expect not in out):
                self.fail(f"loader refuses {what}", f"exit {rc}, expected 1 and \"{expect}\":\n{out[-1500:]}")
            else:
                msg = out.strip().splitlines()[-1] if out.strip() else ""
                print(f"ok   loader refuses {what}: {msg[:150]}")
        rc, out, _ = self.kh(["--check-load", self.a.ko])
        if rc != 0:
            self.fail("loader accepts the module", out[-2000:])
        else:
            print("ok   loader accepts the module itself")

    def run_mutants(self, d):
        for sym, what in MUTANTS:
            try:
                ko = mutant(self.a.ko, d, sym)
            except KeyError:
                self.fail(f"mutant {sym}: no such function in the module")
                continue
            res = self.run_scripts(ko, label=f"mutants/{sym}", quiet=True, realtime=False)
            caught = sorted(os.path.basename(s) for s, (rc, _o) in res.items() if rc != 0)
            usage = [s for s, (rc, _o) in res.items() if rc == 2]
            if not caught or usage:
                self.fail(f"mutant {sym} ({what}) was NOT detected by any script")
            else:
                more = f" +{len(caught) - 4}" if len(caught) > 4 else ""
                print(f"ok   mutant {sym} ({what}): caught by {', '.join(caught[:4])}{more}")

    def run_faults(self):
        jobs = []
        for s in self.scripts():
            if os.path.basename(os.path.dirname(s)) == "realtime":
                continue
            rc, out, _ = self.kh(["--count-faults"] + self.script_args(s, self.a.ko, "faults"))
            m = re.search(r"fallible allocations: (\d+)", out)
            if rc != 0 or not m:
                self.fail(f"fault count of {os.path.basename(s)}", out[-1500:])
                continue
            n = int(m.group(1))
            step = max(1, n // self.a.max_faults) if self.a.max_faults else 1
            jobs += [(s, i) for i in range(1, n + 1, step)]
        print(f"..   fault injection: {len(jobs)} runs")
        bad = 0
        with cf.ThreadPoolExecutor(self.a.jobs) as ex:
            futs = {
                ex.submit(self.kh, ["--fault", str(i)] + self.script_args(s, self.a.ko, f"faults/{i}")): (s, i)
                for s, i in jobs
            }
            for f in cf.as_completed(futs):
                s, i = futs[f]
                rc, out, _ = f.result()
                if rc != 0:
                    bad += 1
                    tail = "\n".join(l for l in out.splitlines() if "FAIL" in l or "fault injected" in l or "kharness:" in l)
                    self.fail(f"{os.path.basename(s)} with allocation #{i} failing", tail or out[-2000:])
        if bad == 0:
            print(f"ok   fault injection: {len(jobs)} runs, every failure handled")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ko", default="build/carp.ko")
    ap.add_argument("--kharness", required=True)
    ap.add_argument("--carpdump", required=True)
    ap.add_argument("--out", default="build/kharness/results")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--tshark", action="store_true", help="also have tshark check CARP frames")
    ap.add_argument("--parts", default="scripts,loader,mutants,faults")
    ap.add_argument("--max-faults", type=int, default=0, help="at most this many fault runs per script (0: all)")
    ap.add_argument("--only", nargs="*", help="only scripts whose path contains one of these")
    ap.add_argument("--valgrind", action="store_true", help="run kharness under valgrind memcheck")
    a = ap.parse_args()
    a.ko = os.path.abspath(a.ko)
    a.out = os.path.abspath(a.out)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    r = Runner(a)
    t0 = time.monotonic()
    parts = a.parts.split(",")
    if "scripts" in parts:
        print(f"== scripts against {a.ko}")
        r.run_scripts(a.ko)
    if "loader" in parts:
        print("== loader refusals")
        d = os.path.join(a.out, "loader")
        os.makedirs(d)
        r.run_loader(d)
    if "mutants" in parts:
        print("== mutants (each must make the suite fail)")
        d = os.path.join(a.out, "mutant-modules")
        os.makedirs(d)
        r.run_mutants(d)
    if "faults" in parts:
        print("== fault injection")
        r.run_faults()
    dt = time.monotonic() - t0
    if r.failures:
        print(f"harness-test: {len(r.failures)} failure(s) in {dt:.1f} s")
        return 1
    print(f"harness-test: all passed in {dt:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
