#!/usr/bin/env bash
# Builds the Debian package, target/debian/sipprov_<version>-1_<arch>.deb: the release
# binaries, the man pages and shell completions they generate, then `cargo deb` with the
# metadata in bins/sipprovd/Cargo.toml. Install it with `sudo apt install ./target/debian/sipprov_*.deb`.
#
# Usage: scripts/build-deb.sh [PROFILE]   (default: release; `dev` for a quick test package)
# Needs cargo-deb: `cargo install cargo-deb --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-release}
if ! command -v cargo-deb >/dev/null; then
    echo "build-deb: cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 2
fi
cargo build --locked --profile "$profile" -p sipprovd -p sipprov
out="${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")"
rm -rf "$out/packaging"
mkdir -p "$out/packaging/completions"
for binary in sipprovd sipprov; do
    "$out/$binary" manpages "$out/packaging/man"
    "$out/$binary" completions bash > "$out/packaging/completions/$binary.bash"
    "$out/$binary" completions zsh > "$out/packaging/completions/_$binary"
    "$out/$binary" completions fish > "$out/packaging/completions/$binary.fish"
done
cargo deb -p sipprovd --no-build --locked --profile "$profile"
