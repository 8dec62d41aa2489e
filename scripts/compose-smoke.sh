#!/usr/bin/env bash
# Smoke test of docker/Dockerfile and docker/docker-compose.yml without Docker
# and without an image registry: podman and podman-compose from Debian, a
# stand-in base image made here (a debootstrapped bookworm carrying this
# machine's node and npm), the three services on an internal network, and the
# reference scenario played through murmurctl inside the containers.
#
#   scripts/compose-smoke.sh        # as root, on Debian bookworm
#
# Installs and configures podman when missing. Everything it starts (the
# containers, their network and volumes) is removed on exit, failed or not;
# the images stay as a build cache (podman rmi localhost/murmur:smoke
# localhost/murmur-node-base:local removes them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROJECT=murmur-smoke
BASE_IMAGE=localhost/murmur-node-base:local
IMAGE=localhost/murmur:smoke
NETWORK=${PROJECT}_murmur
SERVICES=(alice bob charlie)
COMPOSE=(podman-compose -p "$PROJECT" -f "$ROOT/docker/docker-compose.yml" -f "$ROOT/scripts/docker-smoke.compose.yml")
CONTAINERS_CONF=/etc/containers/containers.conf
WORK=$(mktemp -d /tmp/murmur-compose-smoke.XXXXXX)
LOG=$WORK/smoke.log
FAILED_LOG=/tmp/murmur-compose-smoke.log

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() { printf '\ncompose-smoke: FAILED: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# Runs a noisy command with its output in the log; the log is shown if the run fails.
quiet() { "$@" >>"$LOG" 2>&1; }

# wait_until <seconds> <what> <command…>: polls every 0.5 s, fails after the deadline.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "timed out after ${limit} s waiting for $what"
    sleep 0.5
  done
}

# ── podman ──────────────────────────────────────────────────────────────────

ensure_podman() {
  local missing=()
  # netavark sets its bridges up through iptables, and fails without it
  for cmd in podman podman-compose runc debootstrap iptables; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  for pkg in netavark aardvark-dns; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]} > 0)); then
    step "installing ${missing[*]} from Debian"
    quiet apt-get update
    DEBIAN_FRONTEND=noninteractive quiet apt-get install -y podman runc podman-compose netavark aardvark-dns debootstrap iptables
  fi
}

# set_conf <section> <key> <value>: one TOML key in containers.conf, replaced or added under its section.
set_conf() {
  local section=$1 key=$2 value=$3
  if grep -qE "^[[:space:]]*$key[[:space:]]*=" "$CONTAINERS_CONF"; then
    sed -i -E "s|^[[:space:]]*$key[[:space:]]*=.*|$key = $value|" "$CONTAINERS_CONF"
  elif grep -q "^\[$section\]" "$CONTAINERS_CONF"; then
    sed -i "/^\[$section\]/a $key = $value" "$CONTAINERS_CONF"
  else
    printf '\n[%s]\n%s = %s\n' "$section" "$key" "$value" >>"$CONTAINERS_CONF"
  fi
}

# This machine has no systemd and refuses podman's default ulimits.
configure_podman() {
  mkdir -p "$(dirname "$CONTAINERS_CONF")"
  touch "$CONTAINERS_CONF"
  set_conf containers default_ulimits '[]'
  set_conf engine runtime '"runc"'
  set_conf engine cgroup_manager '"cgroupfs"'
}

# ── the stand-in base image ────────────────────────────────────────────────

# The Debian archive this machine installs from.
debian_mirror() {
  local uri=''
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    uri=$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $uri && -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  if [[ -z $uri ]]; then
    echo "compose-smoke: no Debian archive in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; configure apt's mirror first" >&2
    return 1
  fi
  echo "$uri"
}

# The CA bundle npm uses here (its cafile setting, else Debian's bundle).
ca_bundle() {
  local cafile
  cafile=$(npm config get cafile 2>/dev/null || true)
  [[ -n $cafile && $cafile != null && -f $cafile ]] || cafile=/etc/ssl/certs/ca-certificates.crt
  echo "$cafile"
}

# localhost/murmur-node-base:local stands in for node:22-bookworm-slim: Debian
# bookworm (minbase) with this machine's node, npm and node headers under
# /usr/local, where the official image keeps them. Rebuilt when node changes.
build_base_image() {
  local node npm_dir prefix version
  node=$(readlink -f "$(command -v node)")
  prefix=$(dirname "$(dirname "$node")")
  npm_dir=$(npm root -g)/npm
  version=$("$node" --version)
  if podman image exists "$BASE_IMAGE" &&
    [[ $(podman image inspect --format '{{index .Labels "murmur.node-version"}}' "$BASE_IMAGE") == "$version" ]]; then
    say "$BASE_IMAGE (node $version) is already built"
    return
  fi
  local mirror rootfs=$WORK/rootfs started=$SECONDS
  mirror=$(debian_mirror) || return 1
  say "debootstrap --variant=minbase bookworm from $mirror (log: $LOG)"
  quiet debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  install -D -m 0755 "$node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # node-gyp compiles against these instead of downloading them
  cp -a "$prefix/include/node" "$rootfs/usr/local/include/node"
  # this machine's CA bundle: the registries may be reached through a TLS proxy it trusts
  install -D -m 0644 "$(ca_bundle)" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | quiet podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV npm_config_nodedir=/usr/local' \
    --change 'ENV npm_config_cafile=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change "LABEL murmur.node-version=$version" \
    --change 'CMD ["node"]' \
    - "$BASE_IMAGE"
  rm -rf "$rootfs"
  local got
  got=$(podman run --rm --network none "$BASE_IMAGE" sh -c 'echo "node $(node --version), npm $(npm --version)"')
  say "built $BASE_IMAGE in $((SECONDS - started)) s: $got"
}

# ── the cluster ────────────────────────────────────────────────────────────

container() { echo "${PROJECT}_$1_1"; }
ctl() {
  local service=$1
  shift
  podman exec "$(container "$service")" murmurctl "$@"
}
# json <expression over v>: evaluates it on the JSON read from stdin.
json() { node -e 'let s = ""; process.stdin.on("data", d => { s += d }).on("end", () => { const v = JSON.parse(s); const r = eval(process.argv[1]); console.log(typeof r === "string" ? r : JSON.stringify(r)) })' "$1"; }

healthy() { podman healthcheck run "$(container "$1")"; }
connected() { (($(ctl "$1" status --json | json v.peers) >= $2)); }

# Fills LISTS[service] and succeeds when the three lists are identical with at least $1 keys.
declare -A LISTS
lists_identical() {
  local service
  for service in "${SERVICES[@]}"; do LISTS[$service]=$(ctl "$service" list) || return 1; done
  [[ ${LISTS[alice]} == "${LISTS[bob]}" && ${LISTS[bob]} == "${LISTS[charlie]}" ]] &&
    (($(grep -c . <<<"${LISTS[alice]}") >= $1))
}

# counter_is <value> <version json>: every node holds that value with that exact version.
counter_is() {
  local service
  for service in "${SERVICES[@]}"; do
    [[ $(ctl "$service" get counter --meta --json | json 'v.value + " " + JSON.stringify(v.version)') == "$1 $2" ]] || return 1
  done
}

put() {
  ctl "$1" put "$2" "$3" >/dev/null
  printf '   %-8s put %-16s = %s\n' "$1" "$2" "$3"
}

remove_stack() {
  quiet "${COMPOSE[@]}" down -v -t 10 || true
  local ids
  ids=$(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT") || true
  [[ -z $ids ]] || quiet podman rm -f $ids || true
  local service
  for service in "${SERVICES[@]}"; do
    ! podman volume exists "${PROJECT}_$service-data" || quiet podman volume rm -f "${PROJECT}_$service-data" || true
  done
  ! podman network exists "$NETWORK" || quiet podman network rm -f "$NETWORK" || true
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if command -v podman >/dev/null; then remove_stack; fi
  rm -f "$FAILED_LOG"
  if ((rc != 0)); then
    cp "$LOG" "$FAILED_LOG" 2>/dev/null
    printf '\nlast lines of the log (all of it: %s):\n' "$FAILED_LOG" >&2
    tail -n 40 "$LOG" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ── the run ────────────────────────────────────────────────────────────────

[[ $(id -u) == 0 ]] || die "run as root (it installs and runs podman)"
command -v node >/dev/null || die "node is not on PATH; the stand-in base image carries this machine's node"
started=$SECONDS

step "podman"
ensure_podman
configure_podman
say "$(podman --version), podman-compose $(podman-compose version 2>/dev/null | awk '/podman-compose/ {print $NF; exit}'), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}'), network $(podman info --format '{{.Host.NetworkBackend}}')"

step "stand-in base image"
build_base_image

step "image"
build_started=$SECONDS
# --format docker keeps the HEALTHCHECK (OCI images have none); the build
# reaches the npm registry and the Debian mirror, and nothing else
quiet timeout 1200 podman build --format docker --network host \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" -f "$ROOT/docker/Dockerfile" "$ROOT" ||
  die "podman build failed"
say "built $IMAGE in $((SECONDS - build_started)) s, $(podman image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=iec) ($(podman image inspect --format '{{.Config.User}}, healthcheck {{.HealthCheck.Test}}' "$IMAGE"))"

step "compose up (internal network)"
remove_stack
up_started=$(now_ms)
quiet "${COMPOSE[@]}" up -d --no-build || die "podman-compose up failed"
[[ $(podman network inspect --format '{{.Internal}}' "$NETWORK") == true ]] || die "$NETWORK is not an internal network"
# podman-compose exits 0 even when a container fails to start
for service in "${SERVICES[@]}"; do
  [[ $(podman inspect --format '{{.State.Status}}' "$(container "$service")" 2>/dev/null) == running ]] ||
    die "$service is not running: $(grep -m1 'Error:' "$LOG" || podman logs --tail 5 "$(container "$service")" 2>&1)"
done
for service in "${SERVICES[@]}"; do
  wait_until 60 "$service to report healthy" healthy "$service"
done
healthy_ms=$(($(now_ms) - up_started))
wait_until 30 "alice to connect to bob and charlie" connected alice 2
wait_until 30 "bob to connect to alice" connected bob 1
wait_until 30 "charlie to connect to alice" connected charlie 1
say "3 containers healthy ${healthy_ms} ms after up; alice connected to bob and charlie after $(($(now_ms) - up_started)) ms"
for service in "${SERVICES[@]}"; do
  say "$service is connected to: $(ctl "$service" peers --json | json 'v.map(p => `${p.name ?? p.id} (${p.via ?? "?"})`).sort().join(", ")')"
done
alice_ctr=$(container alice)
say "in $alice_ctr: PID 1 is $(podman exec "$alice_ctr" cat /proc/1/cmdline | tr '\0' ' '), uid $(podman exec "$alice_ctr" id -u), on PATH: $(podman exec "$alice_ctr" sh -c 'for c in murmurd murmurctl; do command -v $c; done' | tr '\n' ' ')"
default_routes=$(podman exec "$alice_ctr" awk 'NR > 1 && $2 == "00000000"' /proc/net/route | wc -l)
((default_routes == 0)) || die "$alice_ctr has a default route on an internal network"
say "no default route in the containers: the network is internal"

step "reference scenario through murmurctl in the containers"
# the README's form first: compose exec with no flags finds the daemon from MURMUR_DATA_DIR
quiet "${COMPOSE[@]}" exec -T alice murmurctl put project:name MyAwesomeProject
[[ $(ctl alice get project:name) == MyAwesomeProject ]] || die "podman-compose exec alice murmurctl put did not store the value"
printf '   %-8s put %-16s = %s  (podman-compose exec -T alice murmurctl put …)\n' alice project:name MyAwesomeProject
put alice project:version 1.0.0
put alice db:host localhost
put alice db:port 5432
put alice user:alice alice
put bob project:version 1.1.0
put bob api:endpoint https://api.example.com
put bob api:timeout 30
put bob user:bob bob
put charlie db:port 3306
put charlie cache:enabled true
put charlie cache:ttl 3600
put charlie user:charlie charlie
last_write=$(now_ms)
wait_until 30 "identical lists with 11 keys on alice, bob and charlie" lists_identical 11
say "converged $(($(now_ms) - last_write)) ms after the last write: murmurctl list identical on all 3 containers"
expected=$'api:endpoint = https://api.example.com\napi:timeout = 30\ncache:enabled = true\ncache:ttl = 3600\ndb:host = localhost\ndb:port = 3306\nproject:name = MyAwesomeProject\nproject:version = 1.1.0\nuser:alice = alice\nuser:bob = bob\nuser:charlie = charlie'
[[ ${LISTS[alice]} == "$expected" ]] || die "the converged list is not the reference one: ${LISTS[alice]}"
sed 's/^/     /' <<<"${LISTS[alice]}"

step "concurrent writes to counter"
ctl alice --json put counter 100 >"$WORK/alice.json" &
alice_put=$!
ctl bob --json put counter 200 >"$WORK/bob.json" &
bob_put=$!
wait "$alice_put" || die "alice's put counter failed"
wait "$bob_put" || die "bob's put counter failed"
# the higher (wall, logical, origin) wins
read -r winner winner_value winner_version < <(node -e '
  const [a, b] = process.argv.slice(1).map(f => JSON.parse(require("fs").readFileSync(f, "utf8")).version)
  const cmp = a.wall - b.wall || a.logical - b.logical || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0)
  const [who, value, v] = cmp > 0 ? ["alice", "100", a] : ["bob", "200", b]
  console.log(who, value, JSON.stringify(v))' "$WORK/alice.json" "$WORK/bob.json")
say "alice wrote 100 at $(json '`${v.version.wall}.${v.version.logical}`' <"$WORK/alice.json"), bob wrote 200 at $(json '`${v.version.wall}.${v.version.logical}`' <"$WORK/bob.json")"
wait_until 30 "counter = $winner_value with $winner's version on all 3 nodes" counter_is "$winner_value" "$winner_version"
say "counter = $winner_value on alice, bob and charlie (winner: $winner, the higher (wall, logical, origin))"

step "restart charlie: same peer ID, catches up"
charlie_ctr=$(container charlie)
charlie_id=$(ctl charlie status --json | json v.id)
stop_started=$(now_ms)
quiet podman stop -t 20 "$charlie_ctr"
stop_ms=$(($(now_ms) - stop_started))
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$charlie_ctr")
[[ $exit_code == 0 ]] || die "charlie exited with $exit_code on podman stop (SIGTERM), expected 0"
say "podman stop: charlie exited 0 after ${stop_ms} ms (SIGTERM reached murmurd through tini)"
put alice while:charlie:away yes
quiet podman start "$charlie_ctr"
wait_until 60 "charlie to report healthy again" healthy charlie
[[ $(ctl charlie status --json | json v.id) == "$charlie_id" ]] || die "charlie came back with another peer ID"
restart_started=$(now_ms)
wait_until 30 "charlie to catch up after its restart" lists_identical 13
say "same peer ID ${charlie_id:0:8}…${charlie_id: -6} (kept in its volume); all 3 lists identical (13 keys) $(($(now_ms) - restart_started)) ms after it was healthy"
counter_is "$winner_value" "$winner_version" || die "the counter changed after charlie's restart"

step "PASSED in $((SECONDS - started)) s"
