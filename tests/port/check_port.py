#!/usr/bin/env python3
"""Checks of what cannot be run here: the FreeBSD port (ports/net/carp-kmod) and the FreeBSD
CI configuration (.cirrus.yml). Neither can be built or run on Linux; this checks that the
files exist and parse, that the port's version is the workspace's, that its pkg-plist is
exactly what its do-install installs (from files that exist in the tree), that pkg-message
gives the loader.conf lines, and that every file and make target the CI configuration uses
exists.

    check_port.py [REPO_ROOT]
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
PORT = os.path.join(ROOT, "ports", "net", "carp-kmod")
problems = []


def fail(msg):
    problems.append(msg)


def make_vars(path):
    """VAR= / VAR+= assignments of a BSD makefile (continuation lines joined), and targets."""
    text = open(path).read().replace("\\\n", " ")
    vars_, targets = {}, {}
    current = None
    for line in text.splitlines():
        if line.startswith("\t") and current:
            targets[current].append(line.strip())
            continue
        current = None
        m = re.match(r"^([A-Z_][A-Z0-9_]*)\s*(\+?=)\s*(.*?)\s*(#.*)?$", line)
        if m:
            v = m.group(3)
            vars_[m.group(1)] = (vars_.get(m.group(1), "") + " " + v).strip() if m.group(2) == "+=" else v
            continue
        m = re.match(r"^([a-z][a-z0-9-]*):", line)
        if m:
            current = m.group(1)
            targets[current] = []
    return vars_, targets


# ---- the port
for f in ("Makefile", "pkg-descr", "pkg-plist", "pkg-message"):
    if not os.path.isfile(os.path.join(PORT, f)):
        fail(f"ports/net/carp-kmod/{f} is missing")
if not problems:
    v, t = make_vars(os.path.join(PORT, "Makefile"))
    cargo = open(os.path.join(ROOT, "kmod", "Cargo.toml")).read()
    ver = re.search(r'^version\s*=\s*"([^"]+)"', cargo, re.M).group(1)
    if v.get("DISTVERSION") != ver:
        fail(f"DISTVERSION {v.get('DISTVERSION')!r} is not the workspace's version {ver!r}")
    for k in ("PORTNAME", "CATEGORIES", "COMMENT", "LICENSE", "USES", "MAINTAINER", "WWW"):
        if not v.get(k):
            fail(f"port Makefile: {k} is not set")
    if "kmod" not in v.get("USES", "").split():
        fail("port Makefile: USES lacks kmod")
    if set(v.get("ONLY_FOR_ARCHS", "").split()) != {"aarch64", "amd64"}:
        fail(f"ONLY_FOR_ARCHS is {v.get('ONLY_FOR_ARCHS')!r}, expected aarch64 amd64")
    if not open(os.path.join(PORT, "Makefile")).read().rstrip().endswith(".include <bsd.port.mk>"):
        fail("port Makefile does not end with .include <bsd.port.mk>")
    # do-install: each INSTALL_* line installs a file of the tree into a directory.
    installed = []
    for line in t.get("do-install", []):
        m = re.match(r"\$\{(INSTALL_KLD|INSTALL_MAN|INSTALL_DATA|INSTALL_PROGRAM)\}\s+(\S+)\s+(\S+)", line)
        if not m:
            continue
        kind, src, dst = m.groups()
        rel = src.replace("${WRKSRC}/", "")
        if not os.path.isfile(os.path.join(ROOT, rel)) and not rel.endswith(".ko"):
            fail(f"do-install installs {rel}, which is not in the tree")
        if rel.endswith(".ko") and not os.path.isfile(os.path.join(ROOT, os.path.dirname(rel), "Makefile")):
            fail(f"do-install installs {rel}, but {os.path.dirname(rel)} has no Makefile building it")
        name = os.path.basename(rel)
        d = dst.replace("${STAGEDIR}", "").replace("${KMODDIR}", "%%KMODDIR%%").replace("${PREFIX}/", "")
        installed.append(f"{d}/{name}.gz" if kind == "INSTALL_MAN" else f"{d}/{name}")
    if not installed:
        fail("port Makefile: do-install installs nothing")
    plist = [l.strip() for l in open(os.path.join(PORT, "pkg-plist")) if l.strip() and not l.startswith("@comment")]
    if sorted(plist) != sorted(installed):
        fail(f"pkg-plist {plist} is not what do-install installs {installed}")
    msg = open(os.path.join(PORT, "pkg-message")).read()
    for want in ('carp_load="YES"', 'carp_name="/boot/modules/carp.ko"'):
        if want not in msg:
            fail(f"pkg-message lacks {want}")
    if not re.match(r"^\[\s*\{\s*type:\s*install\s+message:\s*<<EOM\n.*\nEOM\n\}\s*\]\s*$", msg, re.S):
        fail("pkg-message is not a UCL list with one install message (<<EOM ... EOM)")
    # The native build the port runs.
    if not os.path.isfile(os.path.join(ROOT, "kmod", "bsd", "Makefile")):
        fail("kmod/bsd/Makefile (the port's build) is missing")

# ---- the FreeBSD CI configuration
ci = os.path.join(ROOT, ".cirrus.yml")
try:
    import yaml
except ImportError:
    fail("PyYAML is not installed (python3-yaml): .cirrus.yml cannot be parsed")
    yaml = None
if yaml is not None:
    try:
        doc = yaml.safe_load(open(ci))
    except Exception as e:  # noqa: BLE001
        doc = None
        fail(f".cirrus.yml does not parse: {e}")
    if doc is not None:
        tasks = {k: v for k, v in doc.items() if k.endswith("_task")}
        if not tasks:
            fail(".cirrus.yml has no task")
        gnu_targets = set(re.findall(r"^([a-z][a-z0-9-]*):", open(os.path.join(ROOT, "Makefile")).read(), re.M))
        for name, task in tasks.items():
            if "freebsd_instance" not in task:
                fail(f".cirrus.yml: {name} does not run on a FreeBSD instance")
            scripts = [c for k, v in task.items() if k.endswith("_script") for c in (v if isinstance(v, list) else [v])]
            for cmd in scripts:
                for path in re.findall(r"(?:sh |cd )((?:tests|kmod)/[\w/.-]+)", cmd):
                    if not os.path.exists(os.path.join(ROOT, path)):
                        fail(f".cirrus.yml runs {path}, which is not in the tree")
                m = re.match(r"gmake (.*)", cmd)
                if m:
                    for word in m.group(1).split():
                        if "=" not in word and word not in gnu_targets:
                            fail(f".cirrus.yml: gmake target {word} does not exist")
            if not any("carp-test.sh" in c for c in scripts) or not any("kyua test" in c for c in scripts):
                fail(f".cirrus.yml: {name} does not run carp-test.sh and FreeBSD's kyua carp tests")

# ---- the end-to-end script itself parses as sh
r = subprocess.run(["sh", "-n", os.path.join(ROOT, "tests", "freebsd", "carp-test.sh")], capture_output=True, text=True)
if r.returncode != 0:
    fail(f"tests/freebsd/carp-test.sh: {r.stderr.strip()}")

for p in problems:
    print(f"  FAIL {p}")
print(f"port and FreeBSD CI files: {'ok' if not problems else f'{len(problems)} problem(s)'} "
      f"(not built or run: no FreeBSD host)")
sys.exit(1 if problems else 0)
