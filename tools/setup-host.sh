#!/usr/bin/env bash
# Installs what building and testing carp.ko needs on Debian bookworm (run as root),
# and fetches FreeBSD 15.0's kernel headers into the project-local .toolchain/.
#
#   tools/setup-host.sh build   # packages `make` needs + the FreeBSD headers
#   tools/setup-host.sh test    # the above + what `make test` needs
#
# Idempotent and quick when everything is present (no network access then). Called by the
# Makefile; you rarely need to run it by hand. To add a package, add one line to the
# list it belongs to below.
#
# On a host that is not Debian (e.g. FreeBSD with gmake and SYSDIR=/usr/src/sys) nothing
# is installed: missing tools are reported and the build fails later with a clear error.
set -euo pipefail

mode="${1:-build}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Needed by `make` (build carp.ko).
BUILD_PACKAGES=(
	rustc-web       # /usr/bin/rustc 1.96: build-std for the custom kernel target
	cargo-web
	rust-web-src    # /usr/src/rustc-1.96.0: core/alloc sources for build-std
	clang-14        # C shim compiler
	lld-14          # ld.lld-14 -r
	llvm-14         # llvm-nm/-objcopy/-objdump/-readelf
	libclang-14-dev # libclang for bindgen
	libck-dev       # ConcurrencyKit headers (net/if_var.h needs ck_queue.h/ck_epoch.h)
	python3         # artifact summary and checks
	python3-pip     # `pip download` of the header wheel
	ca-certificates
)
# Additionally needed by `make test`.
TEST_PACKAGES=(
	mandoc          # mandoc -Tlint on the man pages
	valgrind        # the kernel harness under memcheck (make harness-valgrind)
	python3-yaml    # .cirrus.yml parsed by tests/port/check_port.py
)

# FreeBSD 15.0 headers (with their _KERNEL parts): shipped inside Zig's PyPI wheel.
ZIG_VERSION=0.17.0
ZIG_WHEEL=ziglang-0.17.0-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl
ZIG_WHEEL_SHA256=97079827064a7492cce5541ceb438ae8003ce1e54e399676da2d62fb7a5dc08b
HEADERS_DIR="$root/.toolchain/freebsd-headers-zig-$ZIG_VERSION"

log() { printf 'setup-host: %s\n' "$*" >&2; }

case "$mode" in
build) packages=("${BUILD_PACKAGES[@]}") ;;
test) packages=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
headers) packages=() ;;
*) log "usage: $0 build|test|headers"; exit 2 ;;
esac

install_packages() {
	local missing=() p
	for p in "$@"; do
		if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
			missing+=("$p")
		fi
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing Debian packages: ${missing[*]}"
		log "run as root, or: sudo apt-get install ${missing[*]}"
		exit 1
	fi
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# tshark asks whether non-root users may capture; answer before it is installed.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

fetch_headers() {
	# (Both architectures: an install from before arm64 support lacks aarch64-freebsd-none.)
	[ -f "$HEADERS_DIR/.complete" ] && [ -d "$HEADERS_DIR/aarch64-freebsd-none" ] && return 0
	local dl="$root/.toolchain/dl"
	mkdir -p "$dl"
	if [ ! -f "$dl/$ZIG_WHEEL" ]; then
		log "downloading ziglang==$ZIG_VERSION wheel (about 100 MB) for its FreeBSD headers"
		python3 -m pip download --quiet --no-deps --only-binary=:all: \
			--platform manylinux_2_12_x86_64 \
			"ziglang==$ZIG_VERSION" -d "$dl"
	fi
	echo "$ZIG_WHEEL_SHA256  $dl/$ZIG_WHEEL" | sha256sum -c --quiet -
	log "unpacking FreeBSD headers into ${HEADERS_DIR#"$root"/}"
	rm -rf "$HEADERS_DIR.tmp"
	python3 - "$dl/$ZIG_WHEEL" "$HEADERS_DIR.tmp" <<'PY'
import sys, zipfile, os
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "ziglang/lib/libc/include/"
keep = ("generic-freebsd/", "x86_64-freebsd-none/", "aarch64-freebsd-none/")
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = info.filename[len(prefix):]
        if not rel.startswith(keep) or ".." in rel.split("/"):
            continue
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out, "wb") as dst:
            dst.write(src.read())
        n += 1
if n < 1000:
    sys.exit(f"only {n} header files found in {wheel}")
print(f"setup-host: {n} header files", file=sys.stderr)
PY
	touch "$HEADERS_DIR.tmp/.complete"
	rm -rf "$HEADERS_DIR"
	mv "$HEADERS_DIR.tmp" "$HEADERS_DIR"
	rm -f "$dl/$ZIG_WHEEL"
}

check_kernel_rustc() {
	# bookworm's main archive has rustc-web 1.85; the kernel build (target JSON fields,
	# `-Z json-target-spec`) is only known to work with 1.96, from bookworm-security.
	local v
	v="$(/usr/bin/rustc --version 2>/dev/null | awk '{print $2}')"
	case "$v" in
	1.9[6-9].* | 1.[1-9][0-9][0-9].*) ;;
	*) log "/usr/bin/rustc is '${v:-missing}', need rustc-web >= 1.96 (bookworm-security)"; exit 1 ;;
	esac
}

if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
	install_packages "${packages[@]}"
	[ "$mode" = headers ] || check_kernel_rustc
else
	log "not a Debian host: installing nothing (see README.md for what is needed)"
fi
if [ "${SKIP_ZIG_HEADERS:-0}" != 1 ]; then
	fetch_headers
fi
