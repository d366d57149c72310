#!/usr/bin/env bash
# Builds the static release binaries that go on the install stick:
#   target/dist/archivist-x86_64   (x86_64-unknown-linux-musl)
#   target/dist/archivist-aarch64  (aarch64-unknown-linux-musl)
# relative to the repository root, whatever the current directory, and puts install.sh,
# the units, the settings example and README.md beside them: target/dist is then the
# install folder to copy onto the stick. Cargo's own output goes to $CARGO_TARGET_DIR
# when that is set, else to target/ in the repository.
#
# Usage: deploy/build-release.sh [--target x86_64|aarch64|all] [--smoke]
#   --target  which binaries to build (default: all)
#   --smoke   afterwards run each built binary with --version (aarch64 under qemu-aarch64
#             on an x86_64 machine)
#
# Needs the toolchain that deploy/setup-toolchain.sh installs.
set -euo pipefail

DEPLOY_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$DEPLOY_DIR/.." && pwd -P)
DIST_DIR="$REPO_ROOT/target/dist"
CARGO_OUT_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

die() {
    echo "build-release: $*" >&2
    exit 1
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

which_targets=all
smoke=0
while [ $# -gt 0 ]; do
    case "$1" in
        --target)
            [ $# -ge 2 ] || die "--target needs a value: x86_64, aarch64 or all"
            which_targets=$2
            shift 2
            ;;
        --target=*)
            which_targets=${1#--target=}
            shift
            ;;
        --smoke)
            smoke=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
done

case "$which_targets" in
    x86_64 | aarch64) arches=("$which_targets") ;;
    all) arches=(x86_64 aarch64) ;;
    *) die "unknown target '$which_targets': use x86_64, aarch64 or all" ;;
esac

need_command() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found; run deploy/setup-toolchain.sh (as root)"
}

need_rust_target() {
    rustup target list --installed | grep -qx "$1" ||
        die "Rust target $1 is not installed; run deploy/setup-toolchain.sh"
}

# Prints the Rust target triple for an architecture name.
triple_for() {
    echo "$1-unknown-linux-musl"
}

# aws-lc-sys (TLS crypto, via rustls) would link a system AWS-LC if it found one, and
# falls back to CMake when its plain-cc build cannot run. Pin both choices so the release
# is always built from the vendored source with the C compiler below, and fails loudly
# otherwise. Its pregenerated bindings cover both targets, so neither bindgen nor clang
# is needed.
export AWS_LC_SYS_USE_SYSTEM="${AWS_LC_SYS_USE_SYSTEM:-0}"
export AWS_LC_SYS_CMAKE_BUILDER="${AWS_LC_SYS_CMAKE_BUILDER:-0}"

# Sets the C compiler (for bundled SQLite and aws-lc) and linker for one target.
configure_target() {
    case "$1" in
        x86_64)
            need_command x86_64-linux-musl-gcc
            export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-x86_64-linux-musl-gcc}"
            ;;
        aarch64)
            need_command aarch64-linux-gnu-gcc
            need_command aarch64-linux-gnu-ar
            [ -f /usr/lib/aarch64-linux-musl/musl-gcc.specs ] ||
                die "arm64 musl libc missing (musl-dev:arm64); run deploy/setup-toolchain.sh"
            local wrapper="$DEPLOY_DIR/cc/aarch64-linux-musl-gcc"
            export CC_aarch64_unknown_linux_musl="${CC_aarch64_unknown_linux_musl:-$wrapper}"
            export AR_aarch64_unknown_linux_musl="${AR_aarch64_unknown_linux_musl:-aarch64-linux-gnu-ar}"
            export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-$wrapper}"
            ;;
    esac
}

# Fails unless the file is a statically linked ELF executable (no program interpreter).
check_static() {
    local binary=$1 description
    description=$(file -b "$binary")
    if readelf -lW "$binary" | grep -q 'Requesting program interpreter'; then
        die "$binary needs a dynamic loader: $description"
    fi
    case "$description" in
        *"statically linked"* | *"static-pie linked"*) ;;
        *) die "$binary is not a static executable: $description" ;;
    esac
    echo "  static: $description"
}

human_size() {
    numfmt --to=iec-i --suffix=B --format='%.1f' "$1"
}

need_command cargo
need_command rustup
need_command file
need_command readelf
for arch in "${arches[@]}"; do
    need_rust_target "$(triple_for "$arch")"
    configure_target "$arch"
done
if [ "$smoke" -eq 1 ] && [ "$(uname -m)" != aarch64 ] && [[ " ${arches[*]} " == *" aarch64 "* ]]; then
    need_command qemu-aarch64
fi

mkdir -p "$DIST_DIR"
cd "$REPO_ROOT"
for arch in "${arches[@]}"; do
    triple=$(triple_for "$arch")
    echo "build-release: building $triple"
    started=$SECONDS
    cargo build --release --locked --target "$triple" --manifest-path "$REPO_ROOT/Cargo.toml"
    elapsed=$((SECONDS - started))

    built="$CARGO_OUT_DIR/$triple/release/archivist"
    [ -f "$built" ] || die "cargo reported success but $built does not exist"
    dist="$DIST_DIR/archivist-$arch"
    cp -f "$built" "$dist.tmp"
    mv -f "$dist.tmp" "$dist"

    bytes=$(stat -c %s "$dist")
    echo "build-release: $dist  $(human_size "$bytes") ($bytes bytes), built in ${elapsed}s"
    check_static "$dist"
done

# Everything else the install folder needs (see install.sh).
for file in install.sh archivist.service archivist-backup.service archivist-backup.timer \
    archivist.env.example daily-backup.sh backup-rotate.sh README.md CHANGELOG.md; do
    cp -f "$DEPLOY_DIR/$file" "$DIST_DIR/$file"
done
echo "build-release: install folder ready: $DIST_DIR (copy its contents to the stick)"

if [ "$smoke" -eq 1 ]; then
    for arch in "${arches[@]}"; do
        dist="$DIST_DIR/archivist-$arch"
        if [ "$arch" = "$(uname -m)" ]; then
            runner=()
        elif [ "$arch" = aarch64 ]; then
            runner=(qemu-aarch64)
        else
            echo "build-release: smoke: skipping $arch (cannot run it on $(uname -m))"
            continue
        fi
        echo "build-release: smoke: ${runner[*]:+${runner[*]} }$dist --version"
        "${runner[@]}" "$dist" --version || die "smoke test failed for $dist"
    done
fi
