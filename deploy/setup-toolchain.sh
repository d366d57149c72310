#!/bin/sh
# Installs what deploy/build-release.sh needs to build static Archivist binaries for
# x86_64 and aarch64 (musl) on a Debian 12 build machine, and qemu-aarch64 to smoke-test
# the arm binary. Safe to run again: it only acts on what is missing and is silent when
# nothing is.
#
# Usage: deploy/setup-toolchain.sh [--check]
#   --check  report what is missing and exit 1 if anything is, without installing.
set -eu

RUST_TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl"
# musl-tools: musl-gcc for x86_64. gcc-aarch64-linux-gnu + musl-dev:arm64: a cross C
# compiler and the arm64 musl headers, libc and specs file (see deploy/cc/). qemu-user:
# qemu-aarch64 for the smoke test. file: the static-link check.
APT_PACKAGES="musl-tools gcc-aarch64-linux-gnu musl-dev:arm64 qemu-user file"

die() {
    echo "setup-toolchain: $*" >&2
    exit 1
}

check_only=0
case "${1:-}" in
    "") ;;
    --check) check_only=1 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    *) die "unknown option '$1' (try --help)" ;;
esac

command -v rustup >/dev/null 2>&1 ||
    die "rustup not found on PATH; install Rust with rustup first (https://rustup.rs)"
command -v dpkg >/dev/null 2>&1 ||
    die "dpkg not found: this script supports Debian and its derivatives only"

installed_targets=$(rustup target list --installed)
missing_targets=""
for target in $RUST_TARGETS; do
    if ! printf '%s\n' "$installed_targets" | grep -qx "$target"; then
        missing_targets="$missing_targets $target"
    fi
done

need_arm64_arch=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    need_arm64_arch=1
fi

missing_packages=""
for package in $APT_PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing_packages="$missing_packages $package"
    fi
done

if [ -z "$missing_targets" ] && [ -z "$missing_packages" ] && [ "$need_arm64_arch" -eq 0 ]; then
    exit 0
fi

if [ "$check_only" -eq 1 ]; then
    [ -n "$missing_targets" ] && echo "missing Rust targets:$missing_targets" >&2
    [ "$need_arm64_arch" -eq 1 ] && echo "missing dpkg foreign architecture: arm64" >&2
    [ -n "$missing_packages" ] && echo "missing Debian packages:$missing_packages" >&2
    die "build toolchain incomplete; run deploy/setup-toolchain.sh as root to install it"
fi

if [ -n "$missing_targets" ]; then
    echo "setup-toolchain: adding Rust targets:$missing_targets"
    # shellcheck disable=SC2086 # word splitting of the target list is intended
    if ! output=$(rustup target add $missing_targets 2>&1); then
        printf '%s\n' "$output" >&2
        die "rustup target add$missing_targets failed"
    fi
fi

if [ "$need_arm64_arch" -eq 1 ] || [ -n "$missing_packages" ]; then
    [ "$(id -u)" -eq 0 ] ||
        die "installing Debian packages needs root; re-run as root (sudo $0)"
    if [ "$need_arm64_arch" -eq 1 ]; then
        echo "setup-toolchain: adding dpkg architecture arm64"
        dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
    fi
    echo "setup-toolchain: installing Debian packages:$missing_packages"
    apt-get update -qq || die "apt-get update failed (is the Debian mirror reachable?)"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    if ! output=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing_packages 2>&1); then
        printf '%s\n' "$output" >&2
        die "apt-get install$missing_packages failed"
    fi
fi

echo "setup-toolchain: done"
