#!/usr/bin/env bash
# Sets UE-City up on a fresh machine: a virtual environment in .venv with the product, the model
# stack and (with --dev) the test tools. Safe to re-run: it reinstalls only when pyproject.toml
# changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="all"
for arg in "$@"; do
  case "$arg" in
    --dev) extras="all,dev" ;;
    *) echo "setup.sh: unknown option '$arg' (known: --dev)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup.sh: UE-City needs Python >= 3.11 ($python is $("$python" --version 2>&1))" >&2
  exit 2
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.uecity-installed-$extras"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # torch first and pinned: an unpinned resolve would pull the CUDA build and its GBs of wheels.
  # The warnings filtered out are about this machine's extra package indexes, not about us.
  quiet_pip() { .venv/bin/python -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  quiet_pip --upgrade pip
  quiet_pip "torch==2.13.0"
  quiet_pip -e ".[$extras]"
  echo "$want" > "$stamp"
fi
# --- Browser for the annotator's end-to-end tests (--dev only) --------------------------------
# tests/annotator drives a real headless Chromium through Playwright's Python package (in the
# dev extra). The browser is Debian's `chromium`, never Playwright's own download (which needs
# hosts this machine cannot reach).
if [ "$extras" = "all,dev" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: installing Debian's chromium for the annotator's browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium >/dev/null) \
      || echo "setup.sh: could not install chromium; the annotator's browser tests will skip" >&2
  else
    echo "setup.sh: chromium is missing and this is not a root Debian machine: install it" \
      "(e.g. 'sudo apt-get install chromium') or the annotator's browser tests will skip" >&2
  fi
fi
# --- end of the annotator's browser block ----------------------------------------------------
echo "UE-City is set up in .venv ($(.venv/bin/uecity --version))" >&2
