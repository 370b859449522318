# carp.ko: build, check and test (GNU make).
#
#   make          build build/carp.ko and print its summary
#   make test     host unit tests, artifact checks, core probe, the kernel harness (scripts,
#                 loader, mutants, fault injection, valgrind, fuzz smoke), fuzz smoke,
#                 interop suite (with carp.ko live in the harness), man lint
#   make harness-test [KO=path]   the kernel harness alone (tests/kernel/README.md)
#   make ARCH=aarch64             the arm64 module in build/aarch64 (make test checks both)
#   make core-probe-test   only the protocol core's panic-freedom proof (tests/artifact)
#   make bench    criterion benchmarks of the protocol core
#
# On Debian bookworm, missing packages and the FreeBSD 15.0 headers are installed first
# (tools/setup-host.sh; root needed only when something is missing).
#
# Settings (make VAR=value):
#   SYSDIR            FreeBSD kernel source tree to build against (e.g. /usr/src/sys on a
#                     FreeBSD host). Empty (default): FreeBSD 15.0's installed headers from
#                     the ziglang wheel, unpacked under .toolchain/.
#   FREEBSD_VERSION   __FreeBSD_version the module is built for and depends on
#                     (default 1500068 = 15.0-RELEASE; with SYSDIR, read from its sys/param.h).
#   BUILD             output directory (default build/).
#   LLVM_SUFFIX       suffix of the clang/lld/llvm tools (default -14; empty on FreeBSD).
#   SETUP             set to 0 to skip tools/setup-host.sh.
#
# Only GNU make is supported here; FreeBSD users can also use kmod/bsd/Makefile
# (bsd.kmod.mk), see README.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

ROOT := $(CURDIR)
# V=1 shows every command.
V ?= 0
ifeq ($(V),1)
  Q :=
  say := @true
else
  Q := @
  say := @printf '  %-6s %s\n'
endif
# ARCH=aarch64 builds the arm64 module (in build/aarch64 by default); amd64 otherwise.
ARCH ?= x86_64
ifneq ($(filter-out x86_64 aarch64,$(ARCH)),)
  $(error ARCH=$(ARCH): x86_64 (amd64) or aarch64 (arm64))
endif
BUILD ?= $(ROOT)/build$(if $(filter aarch64,$(ARCH)),/aarch64)
SETUP ?= 1

# ---------------------------------------------------------------------------------------
# Tools
LLVM_SUFFIX ?= -14
CC_KERNEL := clang$(LLVM_SUFFIX)
LD_KERNEL := ld.lld$(LLVM_SUFFIX)
NM := llvm-nm$(LLVM_SUFFIX)
OBJCOPY := llvm-objcopy$(LLVM_SUFFIX)
OBJDUMP := llvm-objdump$(LLVM_SUFFIX)
PYTHON ?= python3
# The kernel build uses Debian's rustc-web (1.96, with library sources for build-std);
# host tests use whatever `cargo` is first in PATH (rustup stable).
KERNEL_RUSTC ?= /usr/bin/rustc
KERNEL_CARGO ?= /usr/bin/cargo
LIBCLANG_PATH ?= /usr/lib/llvm-14/lib
HOST_CARGO ?= cargo

# ---------------------------------------------------------------------------------------
# Kernel headers and the ONE definition of the kernel compiler flags.
ZIG_HEADERS := $(ROOT)/.toolchain/freebsd-headers-zig-0.17.0
SYSDIR ?=
ifeq ($(strip $(SYSDIR)),)
  FREEBSD_VERSION ?= 1500068
  HEADER_STAMP := $(ZIG_HEADERS)/.complete
  CK_INCLUDE := $(BUILD)/ck
  KERNEL_INCLUDES := -isystem $(ZIG_HEADERS)/$(ARCH)-freebsd-none \
                     -isystem $(ZIG_HEADERS)/generic-freebsd \
                     -isystem $(ROOT)/kmod/shim/ck -isystem $(CK_INCLUDE)
  # Zig's headers leave __FreeBSD_version to the compiler.
  VERSION_FLAGS := -D__FreeBSD_version=$(FREEBSD_VERSION)
else
  # A source tree's sys/param.h defines __FreeBSD_version itself; that value is used.
  SYSDIR_VERSION := $(shell awk '/^\#define[[:space:]]+__FreeBSD_version/ {print $$3; exit}' $(SYSDIR)/sys/param.h 2>/dev/null)
  FREEBSD_VERSION ?= $(if $(SYSDIR_VERSION),$(SYSDIR_VERSION),1500068)
  ifneq ($(SYSDIR_VERSION),)
    ifneq ($(SYSDIR_VERSION),$(FREEBSD_VERSION))
      $(error FREEBSD_VERSION=$(FREEBSD_VERSION) but $(SYSDIR)/sys/param.h says $(SYSDIR_VERSION))
    endif
  endif
  HEADER_STAMP := $(BUILD)/sysinc/.complete
  CK_INCLUDE := $(SYSDIR)/contrib/ck/include
  # Like bsd.kmod.mk: `machine` and `x86` links next to the source tree.
  KERNEL_INCLUDES := -isystem $(BUILD)/sysinc -isystem $(SYSDIR) -isystem $(CK_INCLUDE)
  VERSION_FLAGS := $(if $(SYSDIR_VERSION),,-D__FreeBSD_version=$(FREEBSD_VERSION))
endif
FREEBSD_MAJOR := $(shell echo $$(( $(FREEBSD_VERSION) / 100000 )))
OPT_DIR := $(BUILD)/opt

# Preprocessor + code generation, as FreeBSD's kern.mk/kmod.mk use them for modules of
# the architecture (amd64: sys/conf/kern.mk's amd64 block, an ET_REL module; arm64: its
# aarch64 block plus kmod.mk's -fPIC for the shared-object module).
# Used verbatim for the C shim AND handed to bindgen (sys-bindings/build.rs reads it from
# CARP_KERNEL_CFLAGS) AND used by the artifact check to read the kernel's declarations.
ifeq ($(ARCH),aarch64)
  # Rust: BTI landing pads and PAC return signing as -mbranch-protection=standard gives
  # the C (the kernel maps module text with BTI's guarded-page bit).
  ARCH_RUSTFLAGS := -Z branch-protection=bti,pac-ret
  ARCH_CFLAGS := -fPIC -mgeneral-regs-only -ffixed-x18 -mbranch-protection=standard \
    -mno-outline-atomics -fstack-protector
else
  ARCH_CFLAGS := -mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -msoft-float -mno-aes \
    -mno-avx -fno-asynchronous-unwind-tables -fstack-protector
endif
KERNEL_CFLAGS := --target=$(ARCH)-unknown-freebsd$(FREEBSD_MAJOR).0 -std=gnu17 \
  -nostdinc $(KERNEL_INCLUDES) -I$(OPT_DIR) \
  -D_KERNEL -DKLD_MODULE -DHAVE_KERNEL_OPTION_HEADERS -include opt_global.h \
  $(VERSION_FLAGS) -D__printf__=__freebsd_kprintf__ \
  -O2 -ffreestanding -fwrapv -fno-common -fno-builtin -fno-strict-aliasing \
  $(ARCH_CFLAGS) -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-addrsig
# Warnings for our own C only, as kern.mk sets them (they do not change code or layout).
SHIM_WARNINGS := -Wall -Wredundant-decls -Wnested-externs -Wstrict-prototypes \
  -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wundef -Wno-pointer-sign -Werror

# ---------------------------------------------------------------------------------------
# Outputs
TARGET_NAME := $(ARCH)-unknown-freebsd-kmod
TARGET_JSON := $(ROOT)/kmod/$(TARGET_NAME).json
KMOD_TARGET_DIR := $(BUILD)/kmod-target
RUST_LIB := $(KMOD_TARGET_DIR)/$(TARGET_NAME)/release/libcarp_kmod.a
SHIM_SRCS := $(wildcard $(ROOT)/kmod/shim/*.c)
SHIM_OBJS := $(patsubst $(ROOT)/kmod/shim/%.c,$(BUILD)/obj/%.o,$(SHIM_SRCS))
KO_FULL := $(BUILD)/carp.ko.full
KO := $(BUILD)/carp.ko
# Global symbols carp.ko keeps (kmod.mk's EXPORT_SYMS): none, everything else is localized.
EXPORT_SYMS ?=

# Sources the artifact check reads the kernel declarations from (their <...> includes).
DECL_SOURCES := $(ROOT)/sys-bindings/wrapper.h $(SHIM_SRCS) $(wildcard $(ROOT)/kmod/shim/*.h)
CHECK_KO := $(PYTHON) $(ROOT)/tests/artifact/check_ko.py
CHECK_ENV := PYTHONDONTWRITEBYTECODE=1 CARP_ARCH=$(ARCH) CARP_KERNEL_CFLAGS="$(KERNEL_CFLAGS)" CARP_DECL_SOURCES="$(DECL_SOURCES)" \
  CC_KERNEL=$(CC_KERNEL) LD_KERNEL=$(LD_KERNEL) OBJCOPY=$(OBJCOPY) OBJDUMP=$(OBJDUMP) NM=$(NM) \
  CARP_SHIM_DIR=$(ROOT)/kmod/shim

.PHONY: all ko setup setup-test summary test host-test artifact-test core-probe \
        core-probe-test fuzz-smoke \
        interop-test manlint bench bench-failover demo clean FORCE

all: ko summary

ko: $(KO)

# ---------------------------------------------------------------------------------------
# Host setup (packages + headers). Runs every time; it only checks when nothing is missing.
setup:
ifeq ($(SETUP),1)
	@$(if $(strip $(SYSDIR)),SKIP_ZIG_HEADERS=1) $(ROOT)/tools/setup-host.sh build
endif

setup-test:
ifeq ($(SETUP),1)
	@$(if $(strip $(SYSDIR)),SKIP_ZIG_HEADERS=1) $(ROOT)/tools/setup-host.sh test
endif

$(ZIG_HEADERS)/.complete: | setup
	$(ROOT)/tools/setup-host.sh headers

$(BUILD)/sysinc/.complete: | setup
	@test -d $(SYSDIR)/amd64/include || { echo "SYSDIR=$(SYSDIR): no amd64/include"; exit 1; }
	mkdir -p $(BUILD)/sysinc
	ln -sfn $(SYSDIR)/$(if $(filter aarch64,$(ARCH)),arm64,amd64)/include $(BUILD)/sysinc/machine
	ln -sfn $(SYSDIR)/x86/include $(BUILD)/sysinc/x86
	touch $@

# ConcurrencyKit headers from Debian's libck-dev, minus its userland ck_md.h (ours is in
# kmod/shim/ck). Linked one by one: -isystem /usr/include would expose glibc's headers.
$(BUILD)/ck/.complete: | setup
	@test -f /usr/include/ck_queue.h || { echo "libck-dev is not installed"; exit 1; }
	$(say) GEN "build/ck (libck-dev headers without its userland ck_md.h)"
	$(Q)rm -rf $(BUILD)/ck && mkdir -p $(BUILD)/ck
	$(Q)for f in $$(dpkg -L libck-dev | grep -E '^/usr/include/(ck_|gcc/).*\.h$$'); do \
	  rel=$${f#/usr/include/}; [ "$$rel" = ck_md.h ] && continue; \
	  mkdir -p $(BUILD)/ck/$$(dirname $$rel); ln -sf $$f $(BUILD)/ck/$$rel; done
	$(Q)touch $@

# Kernel option headers, as `make` in sys/modules generates them for a GENERIC kernel.
$(OPT_DIR)/.complete: $(ROOT)/Makefile
	$(say) GEN "build/opt/opt_{global,inet,inet6,bpf}.h"
	$(Q)mkdir -p $(OPT_DIR)
	$(Q)printf '#define SMP 1\n#define MAC 1\n#define VIMAGE 1\n' > $(OPT_DIR)/opt_global.h
	$(Q)printf '#define INET 1\n#define TCP_OFFLOAD 1\n' > $(OPT_DIR)/opt_inet.h
	$(Q)printf '#define INET6 1\n' > $(OPT_DIR)/opt_inet6.h
	$(Q)printf '#define DEV_BPF 1\n' > $(OPT_DIR)/opt_bpf.h
	$(Q)touch $@

PREREQS := $(HEADER_STAMP) $(OPT_DIR)/.complete $(if $(strip $(SYSDIR)),,$(BUILD)/ck/.complete)

# ---------------------------------------------------------------------------------------
# Rust staticlib for the kernel target. Cargo tracks its own inputs, so always ask it.
# /usr/bin goes first in PATH for this step only (Debian's rustc/cargo, not rustup's).
$(RUST_LIB): FORCE | setup $(PREREQS)
	$(say) CARGO "carp-kmod + carp-proto + sys-bindings (build-std core, alloc)"
	$(Q)cd $(ROOT)/kmod && env PATH=/usr/bin:$$PATH RUSTC=$(KERNEL_RUSTC) RUSTC_BOOTSTRAP=1 \
	  RUSTUP_TOOLCHAIN= CARGO_TARGET_DIR=$(KMOD_TARGET_DIR) LIBCLANG_PATH=$(LIBCLANG_PATH) \
	  CARP_KERNEL_CFLAGS="$(KERNEL_CFLAGS)" \
	  RUSTFLAGS="-C force-unwind-tables=no $(ARCH_RUSTFLAGS)" \
	  $(KERNEL_CARGO) build --release --quiet --target $(TARGET_JSON) \
	    -Z build-std=core,alloc -Z json-target-spec

# C shim, with exactly the kernel flags.
$(BUILD)/obj/%.o: $(ROOT)/kmod/shim/%.c $(wildcard $(ROOT)/kmod/shim/*.h) $(ROOT)/Makefile | setup $(PREREQS)
	$(say) CC kmod/shim/$(notdir $<)
	@mkdir -p $(dir $@)
	$(Q)$(CC_KERNEL) $(KERNEL_CFLAGS) $(SHIM_WARNINGS) -I$(ROOT)/kmod/shim -c $< -o $@

# Link like kmod.mk: ld -r, strip debug info, localize every symbol not exported.
# compiler_builtins' objects embed LLVM bitcode (.llvmbc, for LTO) that the kernel does not
# want and that LLVM 14's tools cannot read: it goes with the debug info.
ifeq ($(ARCH),aarch64)
# arm64 (kmod.mk's __KLD_SHARED): the relocatable link gives carp.kld, whose globals are
# localized, then a shared object (-Bshareable -znotext -znorelro) with a SysV hash table
# (link_elf.c needs DT_HASH); --no-relax keeps lld from relaxing the GOT accesses VNET
# variables need (FreeBSD-EN-23:08).
KO_KLD := $(BUILD)/carp.kld
$(KO): $(SHIM_OBJS) $(RUST_LIB)
	$(say) LD "$(patsubst $(ROOT)/%,%,$(KO)) (ld -r, localize, ld -Bshareable, strip)"
	$(Q)$(LD_KERNEL) -m aarch64elf -r --no-relax --warn-common --build-id=sha1 \
	  -o $(KO_KLD) $(SHIM_OBJS) $(RUST_LIB)
	$(Q)$(OBJCOPY) --remove-section=.llvmbc --remove-section=.llvmcmd $(KO_KLD)
	$(Q)$(NM) --defined-only --extern-only --format=just-symbols $(KO_KLD) \
	  | { grep -vxF -f <(printf '%s\n' $(EXPORT_SYMS)) || true; } > $(BUILD)/localize.syms
	$(Q)$(OBJCOPY) --localize-symbols=$(BUILD)/localize.syms $(KO_KLD)
	$(Q)$(LD_KERNEL) -m aarch64elf -Bshareable -znotext -znorelro --no-relax --hash-style=sysv \
	  --warn-common --build-id=sha1 -o $(KO_FULL) $(KO_KLD)
	$(Q)$(OBJCOPY) --strip-debug $(KO_FULL) $@
else
$(KO): $(SHIM_OBJS) $(RUST_LIB)
	$(say) LD "$(patsubst $(ROOT)/%,%,$(KO)) (ld -r, strip, localize)"
	$(Q)if ! $(LD_KERNEL) -m elf_x86_64_fbsd -r -d --warn-common --build-id=sha1 \
	  -o $(KO_FULL) $(SHIM_OBJS) $(RUST_LIB) 2> $(BUILD)/ld.log; then cat $(BUILD)/ld.log >&2; exit 1; fi
	$(Q)grep -v -- '-d, -dc, -dp, and --\[no-\]define-common will be removed' $(BUILD)/ld.log >&2 || true
	$(Q)$(OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd \
	  $(KO_FULL) $@.tmp
	$(Q)$(NM) --defined-only --extern-only --format=just-symbols $@.tmp \
	  | { grep -vxF -f <(printf '%s\n' $(EXPORT_SYMS)) || true; } > $(BUILD)/localize.syms
	$(Q)$(OBJCOPY) --localize-symbols=$(BUILD)/localize.syms $@.tmp
	$(Q)mv $@.tmp $@
endif

# A coverage-instrumented carp.ko for the whole-module fuzzer (kharness --fuzz), never
# installed: SanitizerCoverage trace-pc-guard in the Rust part and the shim; the harness
# provides the two callbacks (tests/kernel/kern/k_cov.c). Same sources, own build tree.
# The instrumentation's constructors (.init_array, GOT-relative, which no kernel linker
# runs) are removed: a guard is known by its offset in the module instead.
COV_BUILD := $(BUILD)/cov
COV_TARGET_DIR := $(BUILD)/kmod-target-cov
COV_RUST_LIB := $(COV_TARGET_DIR)/$(TARGET_NAME)/release/libcarp_kmod.a
COV_SHIM_OBJS := $(patsubst $(ROOT)/kmod/shim/%.c,$(COV_BUILD)/obj/%.o,$(SHIM_SRCS))
KO_COV := $(COV_BUILD)/carp.ko
SANCOV_RUSTFLAGS := -C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=3 \
  -C llvm-args=-sanitizer-coverage-trace-pc-guard

$(COV_RUST_LIB): FORCE | setup $(PREREQS)
	$(say) CARGO "carp-kmod (coverage-instrumented, for the fuzzer)"
	$(Q)cd $(ROOT)/kmod && env PATH=/usr/bin:$$PATH RUSTC=$(KERNEL_RUSTC) RUSTC_BOOTSTRAP=1 \
	  RUSTUP_TOOLCHAIN= CARGO_TARGET_DIR=$(COV_TARGET_DIR) LIBCLANG_PATH=$(LIBCLANG_PATH) \
	  CARP_KERNEL_CFLAGS="$(KERNEL_CFLAGS)" \
	  RUSTFLAGS="-C force-unwind-tables=no $(SANCOV_RUSTFLAGS)" \
	  $(KERNEL_CARGO) build --release --quiet --target $(TARGET_JSON) \
	    -Z build-std=core,alloc -Z json-target-spec

$(COV_BUILD)/obj/%.o: $(ROOT)/kmod/shim/%.c $(wildcard $(ROOT)/kmod/shim/*.h) $(ROOT)/Makefile | setup $(PREREQS)
	$(say) CC "kmod/shim/$(notdir $<) (coverage)"
	@mkdir -p $(dir $@)
	$(Q)$(CC_KERNEL) $(KERNEL_CFLAGS) $(SHIM_WARNINGS) -fsanitize-coverage=trace-pc-guard \
	  -I$(ROOT)/kmod/shim -c $< -o $@

$(KO_COV): $(COV_SHIM_OBJS) $(COV_RUST_LIB)
	$(say) LD "$(patsubst $(ROOT)/%,%,$(KO_COV)) (coverage-instrumented)"
	$(Q)$(LD_KERNEL) -m elf_x86_64_fbsd -r -d -o $@.full $(COV_SHIM_OBJS) $(COV_RUST_LIB) 2>/dev/null
	$(Q)$(OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd \
	  --wildcard --remove-section='*sancov.module_ctor*' --remove-section='*.init_array*' \
	  $@.full $@.tmp
	$(Q)$(NM) --defined-only --extern-only --format=just-symbols $@.tmp \
	  | { grep -vxF -f <(printf '%s\n' $(EXPORT_SYMS)) || true; } > $(COV_BUILD)/localize.syms
	$(Q)$(OBJCOPY) --localize-symbols=$(COV_BUILD)/localize.syms $@.tmp
	$(Q)mv $@.tmp $@

ko-cov: $(KO_COV)

summary: $(KO)
	@$(CHECK_KO) --summary $(KO)

# ---------------------------------------------------------------------------------------
# Tests
test: setup-test all host-test artifact-test aarch64-test port-check core-probe-test harness-test harness-valgrind harness-fuzz-smoke fuzz-smoke interop-test manlint
	@echo "make test: all passed"

# The FreeBSD port and the FreeBSD CI configuration, checked as far as Linux can (Debian's
# python3 with python3-yaml, whatever python3 is first on PATH).
SYS_PYTHON := $(firstword $(wildcard /usr/bin/python3) $(PYTHON))
port-check: | setup-test
	$(say) CHECK "ports/net/carp-kmod, .cirrus.yml (tests/port/check_port.py)"
	$(Q)$(SYS_PYTHON) $(ROOT)/tests/port/check_port.py $(ROOT)

# The arm64 module: built (in build/aarch64) and checked like the amd64 one. The kernel
# harness runs amd64 code only, so nothing of the arm64 module is executed here.
aarch64-test:
	$(Q)$(MAKE) --no-print-directory ARCH=aarch64 SETUP=0 BUILD=$(BUILD)/aarch64 all artifact-test

host-test:
	$(say) TEST "host workspace (cargo test --workspace)"
	$(Q)$(HOST_CARGO) test --workspace --quiet

artifact-test: $(KO)
	$(say) CHECK "build/carp.ko (tests/artifact/check_ko.py)"
	$(Q)$(CHECK_ENV) $(CHECK_KO) $(KO)
	$(Q)$(PYTHON) $(ROOT)/tests/artifact/check_unsafe.py $(ROOT)/kmod
	$(say) CHECK "crate layers and file cycles (tests/artifact/check_layers.py)"
	$(Q)$(PYTHON) $(ROOT)/tests/artifact/check_layers.py $(ROOT)/kmod
	$(say) CHECK "drop-in symbols (tests/artifact/check_dropin.py)"
	$(Q)$(CHECK_ENV) $(PYTHON) $(ROOT)/tests/artifact/check_dropin.py --self-test $(KO)
	$(say) CHECK "negative cases (tests/artifact/test_negative.py)"
	$(Q)$(CHECK_ENV) $(PYTHON) $(ROOT)/tests/artifact/test_negative.py $(KO)

# The whole protocol core, independently of what the kernel glue calls today: every public
# entry point of carp-proto called from tests/artifact/core-probe (values from the exports'
# arguments), built for the kernel target exactly like the kmod's Rust part (own target dir),
# linked ld -r keeping every probe_* export, and checked: no panic path, no FPU/SIMD, only
# kernel relocations, only malloc/free/mem* undefined. core-probe-bad.o adds a deliberate
# panic path (feature bad-panic) and must fail (the check's negative proof).
CORE_PROBE_DIR := $(ROOT)/tests/artifact/core-probe
CORE_PROBE_TARGET_DIR := $(BUILD)/core-probe-target
CORE_PROBE_LIB := $(CORE_PROBE_TARGET_DIR)/$(TARGET_NAME)/release/libcarp_core_probe.a
CHECK_CORE_PROBE := $(PYTHON) $(ROOT)/tests/artifact/check_core_probe.py

# $(call build_core_probe,object,features): cargo (kernel target), then ld -r + strip.
define build_core_probe
	$(Q)cd $(CORE_PROBE_DIR) && env PATH=/usr/bin:$$PATH RUSTC=$(KERNEL_RUSTC) RUSTC_BOOTSTRAP=1 \
	  RUSTUP_TOOLCHAIN= CARGO_TARGET_DIR=$(CORE_PROBE_TARGET_DIR) \
	  RUSTFLAGS="-C force-unwind-tables=no" \
	  $(KERNEL_CARGO) build --release --quiet --target $(TARGET_JSON) \
	    -Z build-std=core,alloc -Z json-target-spec $(if $(2),--features $(2))
	$(Q)exports=$$(PYTHONDONTWRITEBYTECODE=1 $(CHECK_CORE_PROBE) --list-exports --features "$(2)" -); \
	  $(LD_KERNEL) -m elf_x86_64_fbsd -r --build-id=sha1 -o $(1).full \
	    $$(printf -- '-u %s ' $$exports) $(CORE_PROBE_LIB)
	$(Q)$(OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd $(1).full $(1)
endef

core-probe: $(BUILD)/core-probe.o

$(BUILD)/core-probe.o: FORCE | setup
	$(say) CARGO "tests/artifact/core-probe: all of carp-proto for the kernel target (LTO)"
	$(call build_core_probe,$@,)

# Same target dir, so only the probe crate is rebuilt; after the good object (the .a is
# shared).
$(BUILD)/core-probe-bad.o: FORCE | setup $(BUILD)/core-probe.o
	$(say) CARGO "tests/artifact/core-probe --features bad-panic (negative case)"
	$(call build_core_probe,$@,bad-panic)

core-probe-test: $(BUILD)/core-probe.o $(BUILD)/core-probe-bad.o
	$(say) CHECK "build/core-probe.o: carp-proto has no panic path (tests/artifact/check_core_probe.py)"
	$(Q)PYTHONDONTWRITEBYTECODE=1 OBJDUMP=$(OBJDUMP) $(CHECK_CORE_PROBE) $(BUILD)/core-probe.o
	$(say) CHECK "negative case: build/core-probe-bad.o (deliberate panic path) must fail"
	$(Q)PYTHONDONTWRITEBYTECODE=1 OBJDUMP=$(OBJDUMP) $(CHECK_CORE_PROBE) --features bad-panic \
	  --expect-fail panic-paths,undefined-symbols --expect-panic-in probe_bad_panic \
	  $(BUILD)/core-probe-bad.o > $(BUILD)/core-probe-bad.log \
	  || { cat $(BUILD)/core-probe-bad.log; exit 1; }
	@tail -n 1 $(BUILD)/core-probe-bad.log

# ---------------------------------------------------------------------------------------
# The kernel harness (tests/kernel): the real carp.ko executed in a Linux process that plays
# the FreeBSD 15 kernel. kern/*.c is the simulated kernel, compiled with the same FreeBSD
# headers and preprocessor flags as the shim (but for a Linux user process: small code
# model, no stack protector, debug info), linked into one object whose only global symbols
# are the hk_* entry points (everything else, malloc/printf/memcpy included, made local so
# it cannot clash with glibc); src/*.rs is the Linux side (loader, scheduler, scripts).
KH_DIR := $(ROOT)/tests/kernel
KH_BUILD := $(BUILD)/kharness
KH_SRCS := $(wildcard $(KH_DIR)/kern/*.c)
KH_OBJS := $(patsubst $(KH_DIR)/kern/%.c,$(KH_BUILD)/obj/%.o,$(KH_SRCS))
KH_KERN := $(KH_BUILD)/kern.o
KH_BIN := $(KH_BUILD)/target/x86_64-unknown-linux-gnu/release/kharness
KH_CFLAGS := $(filter-out -mcmodel=kernel -fstack-protector -O2,$(KERNEL_CFLAGS)) \
  -fno-stack-protector -O1 -g -fno-pic -I$(KH_DIR)/kern \
  -Wall -Wno-unused-function -Wno-pointer-sign -Werror
KO ?= $(BUILD)/carp.ko
HARNESS_ARGS ?=

.PHONY: harness harness-test harness-valgrind bench-harness bench-kpath demo-ko ko-cov harness-fuzz harness-fuzz-smoke aarch64-test port-check

$(KH_BUILD)/obj/%.o: $(KH_DIR)/kern/%.c $(wildcard $(KH_DIR)/kern/*.h) $(ROOT)/Makefile | setup $(PREREQS)
	$(say) CC tests/kernel/kern/$(notdir $<)
	@mkdir -p $(dir $@)
	$(Q)$(CC_KERNEL) $(KH_CFLAGS) -c $< -o $@

$(KH_KERN): $(KH_OBJS)
	$(say) LD "$(patsubst $(ROOT)/%,%,$@) (simulated kernel, hk_* kept global)"
	$(Q)$(LD_KERNEL) -r -o $@.tmp $(KH_OBJS)
	$(Q)$(NM) --defined-only --extern-only --format=just-symbols $@.tmp \
	  | { grep -v -E '^(hk_|__start_set_|__stop_set_)' || true; } > $(KH_BUILD)/localize.syms
	$(Q)$(OBJCOPY) --localize-symbols=$(KH_BUILD)/localize.syms $@.tmp
	$(Q)mv $@.tmp $@

$(KH_BIN): $(KH_KERN) FORCE
	$(say) CARGO "tests/kernel (kharness, non-PIE)"
	$(Q)cd $(KH_DIR) && CARP_KHARNESS_KERN_OBJ=$(KH_KERN) CARGO_TARGET_DIR=$(KH_BUILD)/target \
	  $(HOST_CARGO) build --release --quiet

harness: $(KH_BIN)

# carpdump validates every advertisement the module sent (checksum, HMAC).
CARPDUMP := $(ROOT)/target/release/carpdump
$(CARPDUMP): FORCE
	$(say) CARGO "tools/carpdump (release)"
	$(Q)$(HOST_CARGO) build --release --quiet -p carpdump

# The module under test: build/carp.ko is built first; any other KO= is taken as it is.
KH_KO_DEP := $(if $(filter $(abspath $(KO)),$(abspath $(BUILD)/carp.ko)),$(KO))
KH_RUN := python3 $(KH_DIR)/run.py --kharness $(KH_BIN) --carpdump $(CARPDUMP) --ko $(KO)

# Every script, the loader's refusals, the mutants, the fault-injection sweep.
harness-test: $(KH_BIN) $(CARPDUMP) $(KH_KO_DEP)
	$(KH_RUN) --out $(KH_BUILD)/results $(HARNESS_ARGS)

# Every script (virtual clock) under valgrind memcheck: zero errors required.
harness-valgrind: $(KH_BIN) $(CARPDUMP) $(KH_KO_DEP) | setup-test
	$(KH_RUN) --out $(KH_BUILD)/results-valgrind --parts scripts --valgrind $(HARNESS_ARGS)

# Whole-module fuzzing of the coverage build in the kernel harness (see tests/kernel/README.md):
# the smoke run of make test (the checked-in corpus replayed, then a fixed number of
# mutated programs, deterministic: seed 1), and a long run for the corpus.
KH_CORPUS := $(KH_DIR)/fuzz/corpus
FUZZ_SECONDS ?= 600
harness-fuzz-smoke: $(KH_BIN) $(KO_COV)
	@rm -rf $(KH_BUILD)/fuzz-smoke && mkdir -p $(KH_BUILD)/fuzz-smoke
	@cp $(KH_CORPUS)/*.bin $(KH_BUILD)/fuzz-smoke/ 2>/dev/null || true
	$(KH_BIN) --ko $(KO_COV) --fuzz $(KH_BUILD)/fuzz-smoke --fuzz-runs 2000 --seed 1

harness-fuzz: $(KH_BIN) $(KO_COV)
	@mkdir -p $(KH_BUILD)/fuzz && cp -n $(KH_CORPUS)/*.bin $(KH_BUILD)/fuzz/ 2>/dev/null || true
	$(KH_BIN) --ko $(KO_COV) --fuzz $(KH_BUILD)/fuzz --fuzz-seconds $(FUZZ_SECONDS)

fuzz-smoke:
	@if [ -f tests/fuzz-smoke.sh ]; then bash tests/fuzz-smoke.sh; \
	 else echo "fuzz-smoke: tests/fuzz-smoke.sh not present, skipped"; fi

# The interop suite; its ko_* tests run the real carp.ko in the kernel harness on the LAN.
interop-test: $(KH_BIN) $(KH_KO_DEP) $(CARPDUMP)
	KHARNESS=$(KH_BIN) KO=$(abspath $(KO)) bash tests/interop/run.sh $(INTEROP_TESTS)

# Man pages: files named *.[1-9] under kmod/ or tools/ that start like mdoc/man pages.
manlint:
	@pages=$$(find kmod tools -name target -prune -o -type f -name '*.[1-9]' -print | sort \
	   | while read -r f; do head -n 40 "$$f" | grep -qE '^\.(Dd|TH)' && echo "$$f"; done || true); \
	 if [ -z "$$pages" ]; then echo "manlint: no man pages"; exit 0; fi; \
	 for p in $$pages; do printf '  %-6s %s\n' LINT "$$p (mandoc -Tlint -Wwarning)"; \
	   mandoc -Tlint -Wwarning "$$p"; done

bench:
	$(HOST_CARGO) bench -p carp-proto

bench-harness: $(KH_BIN) $(KH_KO_DEP)
	python3 $(KH_DIR)/bench/bench.py --kharness $(KH_BIN) --ko $(KO)

# The cost of carp.ko's kernel paths (input, advert, ARP, carp_forus), on the real module.
bench-kpath: $(KH_BIN) $(KH_KO_DEP)
	python3 $(KH_DIR)/bench/kpath.py --kharness $(KH_BIN) --ko $(KO)

bench-failover: $(KH_BIN) $(KH_KO_DEP)
	KHARNESS=$(KH_BIN) KO=$(abspath $(KO)) bash tests/interop/bench-failover.sh $(BENCH_ARGS)

demo:
	bash tests/interop/demo.sh

# The demo with the real carp.ko (in the kernel harness) as one of the routers.
demo-ko: $(KH_BIN) $(KH_KO_DEP)
	KHARNESS=$(KH_BIN) KO=$(abspath $(KO)) bash tests/interop/demo-ko.sh

# Removes only this Makefile's outputs (not the host target/ dir nor .toolchain/).
clean:
	rm -rf $(BUILD)

FORCE:
