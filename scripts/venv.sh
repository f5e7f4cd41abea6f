# Sourced by scripts/run and scripts/test: create .venv with Python >= 3.11 if missing, and
# (re)install the project whenever pyproject.toml changed since the last install.
ensure_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    local python=""
    for candidate in "${PYTHON:-}" python3.14 python3.13 python3.12 python3.11 python3 python; do
      if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python="$candidate"
        break
      fi
    done
    if [[ -z "$python" ]]; then
      echo "climat-koom needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
      exit 1
    fi
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  local stamp=.venv/.koom-installed
  local wanted
  wanted="$(.venv/bin/python -c 'import hashlib, pathlib; print(hashlib.sha256(pathlib.Path("pyproject.toml").read_bytes()).hexdigest())')"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    echo "$wanted" >"$stamp"
  fi
}
