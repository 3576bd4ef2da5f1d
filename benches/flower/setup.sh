#!/usr/bin/env bash
# Installs Flower (requirements/flower.txt) into .venv-flower, which reads torch from .venv, and skips the work when
# that exact set is already installed. Run by benches/flower/run_flower.py; safe to run any number of times.
#
# Flower gets its own environment because its pins (protobuf, grpcio, Ray) are no business of the project's .venv;
# torch is not installed twice (about 4 GB with its CUDA libraries) but found through a .pth file, placed after
# .venv-flower's own packages on sys.path, so Flower's pins win where the two overlap.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
venv=.venv-flower
requirements=requirements/flower.txt

say() { printf '\033[1m[flower setup]\033[0m %s\n' "$*" >&2; }

no_torch() { say "error: .venv has no importable torch; run \`TESSERA_TORCH=cuda make setup\` first"; exit 1; }
[ -x .venv/bin/python ] || no_torch
torch_site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# The stamp names the requirements, the interpreter and the torch it links to: any change reinstalls.
wanted=$(cat "$requirements" <(python3 --version) <(echo "$torch_site") | sha256sum | cut -c1-64)
stamp=$venv/.tessera-requirements
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  say "Flower: up to date in $venv"
  exit 0
fi

.venv/bin/python -c 'import torch' 2>/dev/null || no_torch
say "Flower: installing $requirements into $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$torch_site" >"$site/tessera-torch.pth"
"$venv/bin/python" -c 'import flwr, ray, torch' || { say "error: flwr, ray or torch does not import in $venv"; exit 1; }
echo "$wanted" >"$stamp"
say "$("$venv/bin/flwr" --version), torch from $torch_site"
