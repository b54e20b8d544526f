# Shared by scripts/up and scripts/test: a project virtualenv with the locked dependencies,
# and a redis-server binary when none is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MODELTRAIN_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

ensure_venv() {
  if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "modeltrain needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  local stamp
  stamp="$VENV/.installed-$("$PYTHON_BIN" - "$ROOT" <<'PY'
import hashlib, sys, pathlib
root = pathlib.Path(sys.argv[1])
digest = hashlib.sha256()
for name in ("requirements.lock", "pyproject.toml"):
    digest.update((root / name).read_bytes())
print(digest.hexdigest()[:16])
PY
)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing dependencies into $VENV (first run takes a minute or two)"
    [ -x "$VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.lock"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

# Installs redis-server with the system package manager when it is missing and we may.
ensure_redis_binary() {
  command -v redis-server >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "==> installing redis-server (apt-get)"
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null && return 0
  elif command -v brew >/dev/null 2>&1; then
    echo "==> installing redis (brew)"
    brew install redis && return 0
  fi
  echo "redis-server is not installed and could not be installed here; install it" \
       "(e.g. 'apt-get install redis-server' or 'brew install redis') or set" \
       "MODELTRAIN_REDIS_URL to a running Redis" >&2
  return 1
}

# Installs Debian's chromium for the browser test when it is missing and we may.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium for the browser test (apt-get)"
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null && return 0
  fi
  echo "chromium is not installed; the browser test will be skipped" >&2
  return 1
}

redis_answers() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys, redis
try:
    sys.exit(0 if redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping() else 1)
except Exception:
    sys.exit(1)
PY
}
