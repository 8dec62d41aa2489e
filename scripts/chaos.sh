#!/usr/bin/env bash
# Partition drill: three murmurd hosts in network namespaces (netns-cluster.sh),
# writes on both sides of a partition, including to the same keys, then heal
# and check that every replica's kv_store ends up row-for-row identical.
#
# Nothing leaves the namespaces: each murmurd listens only on its host's
# private 10.213.x.y address, with mDNS and the DHT off. murmurctl runs in the
# main namespace and reaches each daemon through its Unix socket.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
readonly ROOT
readonly NETNS=$ROOT/scripts/netns-cluster.sh
readonly MURMURD=$ROOT/packages/daemon/bin/murmurd.js
readonly MURMURCTL=$ROOT/packages/cli/bin/murmurctl.cjs
readonly NAMES=(alice bob charlie)
readonly PORT=4001
readonly SHARED_KEYS=3

KEYS=5
HEAL_TIMEOUT=90
SPLIT_TIMEOUT=60
ISOLATED=3
ID=c$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
WORK=
PIDS=()
PASSED=0

usage () {
  cat <<USAGE
Usage: $(basename "$0") [-n keys] [-i host] [-w seconds] [-t seconds] [-h]

Runs a partition drill against the built murmurd (run 'npx tsc -b' first):
  1. starts alice, bob and charlie on three hosts of a private namespace LAN
     (needs root, iproute2 and nftables: scripts/install-test-deps.sh);
  2. writes <keys> keys and waits until every replica has them;
  3. isolates one host, writes <keys> new keys on each side, writes the same
     ${SHARED_KEYS} keys on both sides, deletes a key on one side and overwrites
     it on the other;
  4. heals, waits for convergence and compares every replica's kv_store rows.
Prints PASS with the time to converge, or FAIL with what differs (exit 1).
Namespaces and daemons are always removed; logs are kept only on failure.

  -n keys      keys written per phase and side (default ${KEYS})
  -i host      the host to isolate: 1 alice, 2 bob, 3 charlie (default ${ISOLATED})
  -w seconds   how long to wait for the isolated node to drop its connections
               before healing (default ${SPLIT_TIMEOUT}; 0 heals right after the writes)
  -t seconds   how long to wait for convergence after healing (default ${HEAL_TIMEOUT})
  -h           this help
USAGE
}

say () { echo "chaos: $*"; }
die () { echo "chaos: $*" >&2; exit 1; }
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
seconds_since () { local ms=$(( $(now_ms) - $1 )); printf '%d.%01d s' $(( ms / 1000 )) $(( ms % 1000 / 100 )); }

parse_args () {
  local opt
  while getopts ':n:i:w:t:h' opt; do
    case $opt in
      n) KEYS=$OPTARG ;;
      i) ISOLATED=$OPTARG ;;
      w) SPLIT_TIMEOUT=$OPTARG ;;
      t) HEAL_TIMEOUT=$OPTARG ;;
      h) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  shift $(( OPTIND - 1 ))
  [[ $# -eq 0 ]] || { usage >&2; exit 2; }
  [[ $KEYS =~ ^[1-9][0-9]{0,3}$ ]] || die "-n wants 1-9999 keys"
  [[ $ISOLATED =~ ^[123]$ ]] || die "-i wants host 1, 2 or 3"
  [[ $SPLIT_TIMEOUT =~ ^[0-9]{1,4}$ && $HEAL_TIMEOUT =~ ^[1-9][0-9]{0,3}$ ]] || die "-w and -t want whole seconds"
}

# Always runs: stops our daemons by PID, then removes the namespaces (which
# also kills anything else left inside them).
cleanup () {
  local pid tries
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for (( tries = 0; tries < 50; tries++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  "$NETNS" down "$ID" >/dev/null 2>&1 || echo "chaos: could not remove cluster $ID; run: $NETNS down $ID" >&2
  if [[ -n $WORK ]]; then
    if [[ $PASSED -eq 1 ]]; then rm -rf "$WORK"; else echo "chaos: logs and databases kept in $WORK" >&2; fi
  fi
}

name_of () { echo "${NAMES[$(( $1 - 1 ))]}"; }
ctl () { local name=$1; shift; node "$MURMURCTL" --socket "$WORK/$name/murmurd.sock" "$@"; }
peer_count () { ctl "$1" status --json | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0)).peers))'; }
has_peers () { [[ $(peer_count "$1") -eq $2 ]]; }

# Polls a command until it succeeds, for at most <seconds>; returns 1 on timeout.
wait_until () {
  local seconds=$1; shift
  local deadline=$(( $(now_ms) + seconds * 1000 ))
  while (( $(now_ms) < deadline )); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# Starts murmurd on host i, peering with every host before it, and waits for its socket.
start_node () {
  local i=$1 name ip peers=() j
  name=$(name_of "$i")
  ip=$("$NETNS" ip "$ID" "$i")
  for (( j = 1; j < i; j++ )); do peers+=(--peer "/ip4/$("$NETNS" ip "$ID" "$j")/tcp/$PORT"); done
  mkdir -p "$WORK/$name"
  # netns-cluster.sh exec replaces itself with murmurd, so $! is murmurd's PID
  "$NETNS" exec "$ID" "$i" node "$MURMURD" --name "$name" --data-dir "$WORK/$name" \
    --listen "/ip4/$ip/tcp/$PORT" --no-mdns --no-dht --log-level info "${peers[@]}" \
    >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIDS+=($!)
  wait_until 20 ctl "$name" status || die "$name did not start; last log lines:$(printf '\n'; tail -n 5 "$WORK/$name.log")"
  say "started $name on host $i ($ip)"
}

# Prints 'identical <rows>' and succeeds when every database holds the same
# kv_store rows; otherwise prints each replica's row count and digest.
compare_replicas () {
  local dbs=() name
  for name in "${NAMES[@]}"; do dbs+=("$WORK/$name/murmur.db"); done
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const [root, expected, ...paths] = process.argv.slice(1)
    const Database = require("node:module").createRequire(root + "/")("better-sqlite3")
    const digests = paths.map(path => {
      const db = new Database(path, { readonly: true, fileMustExist: true })
      try {
        const rows = db.prepare("SELECT key, value, wall, logical, origin, seq FROM kv_store ORDER BY key").all()
        return { rows: rows.length, digest: require("node:crypto").createHash("sha256").update(JSON.stringify(rows)).digest("hex").slice(0, 12) }
      } finally { db.close() }
    })
    const same = digests.every(d => d.digest === digests[0].digest && d.rows === Number(expected))
    console.log(same ? `identical ${digests[0].rows}` : paths.map((p, i) => `${p.split("/").at(-2)}=${digests[i].rows} rows/${digests[i].digest}`).join(" "))
    process.exit(same ? 0 : 1)
  ' "$ROOT" "$1" "${dbs[@]}"
}

put () { ctl "$1" put "$2" "$3" >/dev/null; }

# Writes from <names...> in turn: key <prefix>:<k> for k in 1..KEYS.
write_keys () {
  local prefix=$1; shift
  local -a writers=("$@")
  local k
  for (( k = 1; k <= KEYS; k++ )); do put "${writers[$(( k % ${#writers[@]} ))]}" "$prefix:$k" "$prefix-value-$k"; done
}

main () {
  parse_args "$@"
  [[ -f $ROOT/packages/daemon/dist/src/main.js && -f $ROOT/packages/cli/dist/src/main.js ]] || die "murmur is not built: run 'npx tsc -b' in $ROOT"
  command -v node >/dev/null 2>&1 || die "node is not on PATH"
  WORK=$(mktemp -d -t murmur-chaos.XXXXXX)
  trap cleanup EXIT

  "$NETNS" up "$ID" 3 | sed 's/^/chaos: /'
  local i
  for i in 1 2 3; do start_node "$i"; done
  wait_until 30 has_peers alice 2 || die "alice did not connect to bob and charlie"

  local rows=0 t0
  write_keys before alice
  rows=$(( rows + KEYS ))
  t0=$(now_ms)
  wait_until 30 compare_replicas "$rows" || die "the replicas disagree before any partition: $(compare_replicas "$rows")"
  say "phase 1: $KEYS keys written on alice; all replicas identical $(seconds_since "$t0") after the last write"

  local lone others=()
  lone=$(name_of "$ISOLATED")
  for i in 1 2 3; do [[ $i -eq $ISOLATED ]] || others+=("$(name_of "$i")"); done
  "$NETNS" isolate "$ID" "$ISOLATED"
  local other_host=$(( ISOLATED % 3 + 1 ))
  ! "$NETNS" probe "$ID" "$other_host" "$ISOLATED" "$PORT" || die "host $ISOLATED is still reachable after isolate"
  say "phase 2: $lone isolated (a TCP probe from host $other_host is dropped)"

  write_keys "majority" "${others[@]}"
  write_keys "minority" "$lone"
  for (( i = 1; i <= SHARED_KEYS; i++ )); do
    put "$lone" "shared:$i" "from $lone"
    put "${others[$(( i % 2 ))]}" "shared:$i" "from ${others[$(( i % 2 ))]}"
  done
  ctl "${others[0]}" del before:1 >/dev/null
  put "$lone" before:1 "rewritten by $lone while isolated"
  rows=$(( rows + 2 * KEYS + SHARED_KEYS ))
  say "wrote $KEYS keys on each side, the same $SHARED_KEYS keys on both sides, deleted before:1 on ${others[0]} and rewrote it on $lone"
  ! ctl "$lone" get majority:1 >/dev/null 2>&1 || die "a write from the majority reached the isolated $lone"

  if [[ $SPLIT_TIMEOUT -gt 0 ]]; then
    t0=$(now_ms)
    if wait_until "$SPLIT_TIMEOUT" has_peers "$lone" 0; then
      say "$lone dropped its connections after $(seconds_since "$t0")"
    else
      say "$lone still counts a peer after ${SPLIT_TIMEOUT} s; healing anyway"
    fi
  fi

  "$NETNS" rejoin "$ID" "$ISOLATED"
  t0=$(now_ms)
  say "phase 3: healed; waiting up to ${HEAL_TIMEOUT} s for $rows identical rows on every replica"
  if wait_until "$HEAL_TIMEOUT" compare_replicas "$rows"; then
    PASSED=1
    say "PASS: alice, bob and charlie hold identical kv_store rows ($rows) $(seconds_since "$t0") after healing"
    say "       before:1 = $(ctl alice get before:1 2>/dev/null || echo '(deleted)'); shared:1 = $(ctl alice get shared:1)"
  else
    say "FAIL: no convergence within ${HEAL_TIMEOUT} s after healing: $(compare_replicas "$rows" || true)"
    exit 1
  fi
}

main "$@"
