#!/usr/bin/env bash
# Builds tessera-train-bench against another libtorch than the project's, for a machine whose PyTorch is older
# (the GPU device machine's is 2.11): the program then runs there on that PyTorch's libraries
# (benches/train/device.sh sets the paths).
#
#   benches/train/build-for-device.sh [VERSION (2.11.0)] [OUT_DIR (.device)]
#
# Installs torch==VERSION from PyPI (with only the CUDA runtime and CUPTI it needs to link) into
# ~/.cache/tessera/torch-VERSION, and builds tch's C++ shim against its headers in a target folder of its own. The
# shim is generated for libtorch 2.13; the few wrappers of operators an older libtorch lacks are replaced by ones
# that raise an error if called (the training loop calls none of them). Cargo.lock is restored afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
version=${1:-2.11.0}
out=${2:-.device}
cache="$HOME/.cache/tessera"
venv="$cache/torch-$version"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --no-deps "torch==$version" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
fi
libtorch="$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null ||
  echo "$venv/lib/python3.11/site-packages/torch")"
shim="$cache/torch-sys-$version"
if [ ! -d "$shim" ]; then
  cp -r "$(cargo metadata --format-version 1 | python3 -c 'import json, sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "torch-sys").rsplit("/", 1)[0])')" "$shim"
fi
cp Cargo.lock "$cache/Cargo.lock.saved"
trap 'cp "$cache/Cargo.lock.saved" Cargo.lock' EXIT
for attempt in 1 2 3; do
  if LIBTORCH="$libtorch" LIBTORCH_BYPASS_VERSION_CHECK=1 CARGO_TARGET_DIR="$cache/target-torch-$version" \
    RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined" \
    cargo build --release -p tessera-train-bench --config "patch.crates-io.torch-sys.path=\"$shim\"" 2>"$cache/build.log"; then
    mkdir -p "$out"
    cp "$cache/target-torch-$version/release/tessera-train-bench" "$out/"
    echo "built $out/tessera-train-bench against libtorch $version"
    exit 0
  fi
  echo "attempt $attempt: stubbing the wrappers libtorch $version lacks"
  python3 - "$shim/libtch/torch_api_generated.cpp" "$cache/build.log" <<'PY'
import re, sys
source, log = open(sys.argv[1]).read(), open(sys.argv[2]).read()
names = sorted(set(re.findall(r"In function '[^ ]+ (atg_[a-z_0-9]+)\(", log)))
if not names:
    sys.exit(f"the build failed for another reason; see {sys.argv[2]}")
for name in names:
    m = re.search(r"\n(void " + re.escape(name) + r"\([^)]*\)) \{\n.*?\n\}\n", source, re.S)
    body = f'\n  PROTECT(\n    throw std::invalid_argument("{name} is not in this libtorch");\n  )\n}}\n'
    source = source[: m.start()] + "\n" + m.group(1) + " {" + body + source[m.end():]
open(sys.argv[1], "w").write(source)
print(f"stubbed {len(names)}: {' '.join(names)}")
PY
done
exit 1
