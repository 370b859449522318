#!/usr/bin/env python3
"""Source rule for the kernel crate (clippy cannot run for the kernel target here):

- `unsafe` appears only in the KPI crate, kmod/kpi/ (the compiler enforces this too:
  carp-logic is `#![forbid(unsafe_code)]`, and the staticlib kmod/src only expands
  carp-kpi's entry-point macro; this check keeps the rule visible);
- every `unsafe { ... }` block and `unsafe impl` is preceded by a `// SAFETY:` comment
  (on the same line or in the comment lines right above it);
- every `unsafe fn` has a `# Safety` section in its doc comment.

    check_unsafe.py kmod        (kmod/kpi/src, kmod/logic/src, kmod/src)
"""

import os
import re
import sys

UNSAFE_BLOCK = re.compile(r"\bunsafe\s*\{|\bunsafe\s+impl\b")
UNSAFE_FN = re.compile(r"\bunsafe\s+(?:extern\s+\"C\"\s+)?fn\b")


def strip_strings_and_line_comments(line):
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    return line.split("//", 1)[0]


def check_file(path, kpi_dir):
    problems = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    in_kpi = os.path.realpath(path).startswith(os.path.realpath(kpi_dir) + os.sep)
    for i, raw in enumerate(lines):
        code = strip_strings_and_line_comments(raw)
        if "unsafe" not in code:
            continue
        where = f"{path}:{i + 1}"
        if not in_kpi and re.search(r"\bunsafe\b", code):
            problems.append(f"{where}: `unsafe` outside kmod/kpi/")
        if UNSAFE_BLOCK.search(code):
            # Look upwards through comment lines and the statement's previous lines.
            ok = "SAFETY:" in raw
            j = i - 1
            while not ok and j >= 0 and i - j <= 12:
                prev = lines[j].strip()
                if "SAFETY:" in prev:
                    ok = True
                elif not (prev.startswith("//") or prev == "" or not prev.endswith((";", "}"))):
                    break
                j -= 1
            if not ok:
                problems.append(f"{where}: unsafe block/impl without a `// SAFETY:` comment")
        if UNSAFE_FN.search(code) and "extern" not in code.split("unsafe", 1)[0]:
            # Doc comment above (skipping attributes) must contain "# Safety", except for
            # trait methods whose contract is the trait's (e.g. GlobalAlloc).
            j = i - 1
            doc = []
            while j >= 0 and (lines[j].strip().startswith(("///", "#[")) or not lines[j].strip()):
                doc.append(lines[j])
                j -= 1
            in_trait_impl = any(re.match(r"\s*(unsafe\s+)?impl\b.*\bfor\b", lines[k])
                                for k in range(max(0, i - 60), i))
            if not any("# Safety" in d for d in doc) and not in_trait_impl:
                problems.append(f"{where}: unsafe fn without a `# Safety` doc section")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "kmod"
    kpi = os.path.join(root, "kpi", "src")
    problems, nfiles = [], 0
    for sub in ("kpi/src", "logic/src", "src"):
        for d, _, files in os.walk(os.path.join(root, sub)):
            for name in sorted(files):
                if name.endswith(".rs"):
                    nfiles += 1
                    problems += check_file(os.path.join(d, name), kpi)
    for p in problems:
        print(p)
    print(f"unsafe rules: {nfiles} files of the kernel crates under {root}, "
          f"{'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
