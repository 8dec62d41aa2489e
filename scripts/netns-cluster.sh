#!/usr/bin/env bash
# A throw-away LAN for tests: n "hosts" (network namespaces) on one Linux bridge
# (in its own "switch" namespace), plus nftables knobs to cut links, isolate a
# host or drop a share of its packets. Or, with nat-up, two private LANs behind
# nftables masquerading routers on that bridge, with a relay host and a
# stranger beside the routers.
#
# Everything lives inside namespaces this script creates: the veth pairs are
# created directly inside the switch namespace with their peer end in a host
# namespace, so the main namespace never gets an interface, an address, a route
# or a firewall rule, and the 10.213.x.y addresses are reachable only from
# inside the cluster.
#
# Names: switch `mmr-<id>-sw`, hosts `mmr-<id>-h1` … `mmr-<id>-h<n>`. The owner
# (the process that ran `up`, or $MMR_OWNER_PID) is recorded so `down-stale`
# can tell a crashed run's leftovers from a cluster that is still in use.
set -euo pipefail

readonly PREFIX=mmr
readonly STATE_DIR=${MMR_STATE_DIR:-/run/murmur-netns}
readonly MAX_HOSTS=64
# how long `down` waits for processes in the namespaces to exit after SIGTERM
readonly KILL_GRACE_TENTHS=50

usage () {
  cat <<USAGE
Usage: $(basename "$0") <command> [args]

Creates and drives a cluster of network namespaces joined by a bridge, for
testing murmurd under partitions and packet loss. Needs root, iproute2 and
nftables (scripts/install-test-deps.sh installs them).

  up <id> <n>              create hosts ${PREFIX}-<id>-h1..h<n> on a bridge (n <= ${MAX_HOSTS})
  nat-up <id>              create two private LANs behind NAT routers and a public segment:
                             h1 relay host (public), h2 NAT router of LAN A, h3 host on LAN A,
                             h4 NAT router of LAN B, h5 host on LAN B, h6 stranger (public)
  nat6-up <id>             the same six hosts on IPv6 (NAT66), where libp2p counts the public
                             segment as public: see scripts/netns-nat6.sh
  ip <id> <i>              print host i's address
  exec <id> <i> <cmd...>   run a command in host i's namespace
  probe <id> <i> <j> <port>  exit 0 if host i can open a TCP connection to host j:port (2 s)
  cut <id> <i> <j>         drop all traffic between hosts i and j
  heal <id> <i> <j>        undo 'cut <id> <i> <j>'
  isolate <id> <i>         drop all traffic between host i and every other host
  rejoin <id> <i>          undo 'isolate <id> <i>'
  loss <id> <i> <pct>      drop each packet entering or leaving host i with probability pct%
  noloss <id> <i>          undo 'loss <id> <i>'
  heal-all <id>            undo every cut, isolate and loss in the cluster
  hosts <id>               print the cluster's host count (0 when it does not exist)
  down <id>                kill processes left in the cluster's namespaces and delete them
                           (idempotent; also cleans up after a half-finished 'up')
  down-stale [--all]       run 'down' for every ${PREFIX}-* cluster whose owner process is gone
                           (--all: for every ${PREFIX}-* cluster, in use or not)

<id> is 1-12 lowercase letters and digits; several clusters can coexist.
Host addresses are 10.213.<k>.<i>/24 with k derived from the id. With nat-up,
the public segment is 100.64.<k>.0/24 (relay .10, router A .1, router B .2,
stranger .20), LAN A 172.16.<k>.0/24 and LAN B 172.17.<k>.0/24 (router .1,
host .2). The routers masquerade their LAN behind their public address with
nftables (Linux conntrack NAT: the mapping keeps the source port when it is
free; inbound packets pass only for connections the LAN opened, from the
address they went to: address- and port-dependent filtering) and forward
nothing else in; no port is forwarded, nothing speaks UPnP or NAT-PMP.
'ip' prints a host's first address (a router's public one).
USAGE
}

die () { echo "netns-cluster: $*" >&2; exit 1; }
usage_error () { echo "netns-cluster: $* (see: $(basename "$0") -h)" >&2; exit 2; }

# Says what is missing instead of installing it: this script runs as root and
# should not change the machine beyond its own namespaces.
require_tools () {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces and nftables need CAP_NET_ADMIN)"
  local -a missing=()
  command -v ip >/dev/null 2>&1 || missing+=("ip (package iproute2)")
  command -v nft >/dev/null 2>&1 || missing+=("nft (package nftables)")
  [[ ${#missing[@]} -eq 0 ]] || die "missing: ${missing[*]}; run scripts/install-test-deps.sh or apt-get install -y iproute2 nftables"
}

check_id () {
  [[ $1 =~ ^[a-z0-9]{1,12}$ ]] || usage_error "bad cluster id '$1' (1-12 lowercase letters and digits)"
}

check_index () {
  [[ $1 =~ ^[1-9][0-9]*$ && $1 -le $MAX_HOSTS ]] || usage_error "bad host index '$1' (1-${MAX_HOSTS})"
}

switch_ns () { echo "${PREFIX}-$1-sw"; }
host_ns () { echo "${PREFIX}-$1-h$2"; }

# The third octet, so two clusters' addresses differ in logs. Namespaces are
# isolated from each other, so a collision would be harmless.
subnet_octet () {
  local sum
  sum=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
  echo $(( sum % 250 + 1 ))
}

# A host's first IPv4 address, as configured (up: 10.213.k.i; nat-up: see usage),
# or its first global IPv6 one when it has none (nat6-up).
host_ip () {
  local ns
  ns=$(host_ns "$1" "$2")
  { ip -n "$ns" -4 -o addr show scope global; ip -n "$ns" -6 -o addr show scope global; } | awk '{ split($4, a, "/"); print a[1]; exit }'
}

# Every namespace of cluster <id> (switch and hosts), one per line.
cluster_namespaces () {
  ip netns list | awk '{ print $1 }' | grep -E "^${PREFIX}-$1-(sw|h[0-9]+)$" || true
}

host_count () {
  ip netns list | awk '{ print $1 }' | grep -cE "^${PREFIX}-$1-h[0-9]+$" || true
}

require_host () {
  check_id "$1"
  check_index "$2"
  ip netns list | awk '{ print $1 }' | grep -qx "$(host_ns "$1" "$2")" || die "no host $2 in cluster '$1' (run: $(basename "$0") up $1 <n>)"
}

# The firewall each host starts with: nothing dropped, but a set and chains
# that cut/isolate/loss fill and heal/rejoin/noloss empty. Loopback is always
# accepted so a host can still talk to itself (e.g. murmurctl-free local probes).
host_ruleset () {
  cat <<NFT
table inet ${PREFIX} {
  set blocked { type ipv4_addr; }
  chain isolate_in { }
  chain isolate_out { }
  chain loss_in { }
  chain loss_out { }
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "lo" accept
    ip saddr @blocked drop
    jump isolate_in
    jump loss_in
  }
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    ip daddr @blocked drop
    jump isolate_out
    jump loss_out
  }
}
NFT
}

# The cluster is IPv4-only, so an IPv4 cut is a complete cut (no IPv6
# link-local path around it). Set before any interface exists so none gets one.
disable_ipv6 () {
  [[ -d /proc/sys/net/ipv6 ]] || return 0 # a kernel without IPv6
  ip netns exec "$1" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
}

nft_in () { local ns=$1; shift; ip netns exec "$ns" nft "$@"; }

UP_ID=
on_up_exit () {
  [[ -n $UP_ID ]] || return 0
  echo "netns-cluster: up $UP_ID failed; removing what was created" >&2
  cmd_down "$UP_ID" >/dev/null 2>&1 || true
}

# The start of 'up' and 'nat-up': no such cluster yet, a clean-up if the rest
# fails, the owner, and the switch namespace with its bridge.
begin_cluster () {
  local id=$1 sw
  check_id "$id"
  [[ -z $(cluster_namespaces "$id") ]] || die "cluster '$id' already exists (run: $(basename "$0") down $id)"
  # a failure half-way (set -e exits) must not leave namespaces behind
  UP_ID=$id
  trap on_up_exit EXIT
  record_owner "$id"
  sw=$(switch_ns "$id")
  ip netns add "$sw"
  disable_ipv6 "$sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  # 224.0.0.x (mDNS) is flooded anyway; disabling snooping keeps any other
  # group flowing without an IGMP querier on the bridge
  ip -n "$sw" link set br0 type bridge mcast_snooping 0
  ip -n "$sw" link set br0 up
}

# A host namespace with its firewall, and no interface but loopback yet.
new_host () {
  local ns
  ns=$(host_ns "$1" "$2")
  ip netns add "$ns"
  disable_ipv6 "$ns"
  ip -n "$ns" link set lo up
  host_ruleset | ip netns exec "$ns" nft -f -
}

# Plugs host <i> into the switch's bridge as eth0 with <address>/<prefix length, 24>.
attach_host () {
  local id=$1 i=$2 address=$3 length=${4:-24} sw ns
  sw=$(switch_ns "$id")
  ns=$(host_ns "$id" "$i")
  # created in the switch namespace with its peer directly in the host's
  ip -n "$sw" link add "h$i" type veth peer name eth0 netns "$ns"
  ip -n "$sw" link set "h$i" master br0
  ip -n "$sw" link set "h$i" up
  ip -n "$ns" addr add "$address/$length" dev eth0
  ip -n "$ns" link set eth0 up
}

cmd_up () {
  [[ $# -eq 2 ]] || usage_error "up needs <id> <n>"
  local id=$1 n=$2
  check_id "$id"
  check_index "$n"
  begin_cluster "$id"
  local k i
  k=$(subnet_octet "$id")
  for (( i = 1; i <= n; i++ )); do
    new_host "$id" "$i"
    attach_host "$id" "$i" "10.213.$k.$i"
    # no default route exists in a host; multicast (mDNS) needs an explicit one
    ip -n "$(host_ns "$id" "$i")" route add 224.0.0.0/4 dev eth0
  done
  UP_ID=
  echo "cluster $id: $n hosts on 10.213.$k.0/24 (namespaces $(host_ns "$id" 1) .. $(host_ns "$id" "$n"))"
}

# nat-up and nat6-up: a LAN host behind its NAT router. Called with the
# router's and host's indexes, the LAN's prefix (e.g. 172.16.9 or fd00:9:a)
# and the IP version (4: a /24, .1 and .2; 6: a /64, ::1 and ::2).
nat_lan () {
  local id=$1 router=$2 host=$3 version=${5:-4}
  local rns hns lan=$4. length=24 family=ip forwarding=ipv4/ip_forward
  [[ $version -eq 4 ]] || { lan=$4::; length=64; family=ip6; forwarding=ipv6/conf/all/forwarding; }
  rns=$(host_ns "$id" "$router")
  hns=$(host_ns "$id" "$host")
  ip -n "$rns" link add lan0 type veth peer name eth0 netns "$hns"
  ip -n "$rns" addr add "${lan}1/$length" dev lan0
  ip -n "$rns" link set lan0 up
  ip -n "$hns" addr add "${lan}2/$length" dev eth0
  ip -n "$hns" link set eth0 up
  ip -n "$hns" route add default via "${lan}1"
  ip netns exec "$rns" sh -c "echo 1 > /proc/sys/net/$forwarding"
  ip netns exec "$rns" nft -f - <<NFT
table $family ${PREFIX}nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" masquerade
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "eth0" accept
  }
}
NFT
}

cmd_nat_up () {
  [[ $# -eq 1 ]] || usage_error "nat-up needs <id>"
  local id=$1 k i
  begin_cluster "$id"
  k=$(subnet_octet "$id")
  for (( i = 1; i <= 6; i++ )); do new_host "$id" "$i"; done
  attach_host "$id" 1 "100.64.$k.10"
  attach_host "$id" 2 "100.64.$k.1"
  attach_host "$id" 4 "100.64.$k.2"
  attach_host "$id" 6 "100.64.$k.20"
  nat_lan "$id" 2 3 "172.16.$k"
  nat_lan "$id" 4 5 "172.17.$k"
  UP_ID=
  echo "cluster $id: relay 100.64.$k.10, LAN A 172.16.$k.0/24 behind 100.64.$k.1, LAN B 172.17.$k.0/24 behind 100.64.$k.2, stranger 100.64.$k.20"
}

# Owner = pid plus its start time, so a recycled pid is not mistaken for a live owner.
process_start () { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null || true; }

record_owner () {
  local pid=${MMR_OWNER_PID:-$PPID}
  mkdir -p "$STATE_DIR"
  echo "$pid $(process_start "$pid")" > "$STATE_DIR/$1.owner"
}

owner_alive () {
  local file="$STATE_DIR/$1.owner" pid start
  [[ -f $file ]] || return 1
  read -r pid start < "$file" || return 1
  [[ -n $pid && -n $start && $(process_start "$pid") == "$start" ]]
}

# A zombie has exited; only its parent's wait() is missing.
is_running () {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# Kills what is still running in the namespaces (e.g. a murmurd whose test
# crashed): SIGTERM, a bounded wait, then SIGKILL.
kill_namespace_processes () {
  local -a namespaces=("$@") pids=()
  local ns tries
  for ns in "${namespaces[@]}"; do
    mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  [[ ${#pids[@]} -gt 0 ]] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for (( tries = 0; tries < KILL_GRACE_TENTHS; tries++ )); do
    local alive=0 pid
    for pid in "${pids[@]}"; do is_running "$pid" && alive=1; done
    [[ $alive -eq 1 ]] || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

cmd_down () {
  [[ $# -eq 1 ]] || usage_error "down needs <id>"
  local id=$1 ns
  check_id "$id"
  local -a namespaces
  mapfile -t namespaces < <(cluster_namespaces "$id")
  if [[ ${#namespaces[@]} -gt 0 ]]; then
    kill_namespace_processes "${namespaces[@]}"
    # deleting a namespace deletes its veth ends and bridge with it
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || [[ ! -e /run/netns/$ns ]] || die "cannot delete namespace $ns"; done
  fi
  rm -f "$STATE_DIR/$id.owner"
  echo "cluster $id: down"
}

cmd_down_stale () {
  local all=0
  if [[ $# -eq 1 && $1 == --all ]]; then all=1; elif [[ $# -ne 0 ]]; then usage_error "down-stale takes only --all"; fi
  local -a ids
  mapfile -t ids < <(ip netns list | awk '{ print $1 }' | sed -nE "s/^${PREFIX}-([a-z0-9]{1,12})-(sw|h[0-9]+)$/\1/p" | sort -u)
  local id removed=0
  for id in "${ids[@]}"; do
    if [[ $all -eq 0 ]] && owner_alive "$id"; then
      echo "cluster $id: in use, kept"
      continue
    fi
    cmd_down "$id"
    removed=$(( removed + 1 ))
  done
  echo "down-stale: removed $removed cluster(s)"
}

cmd_ip () {
  [[ $# -eq 2 ]] || usage_error "ip needs <id> <i>"
  require_host "$1" "$2"
  host_ip "$1" "$2"
}

cmd_exec () {
  [[ $# -ge 3 ]] || usage_error "exec needs <id> <i> <cmd...>"
  require_host "$1" "$2"
  local ns
  ns=$(host_ns "$1" "$2")
  shift 2
  exec ip netns exec "$ns" "$@"
}

cmd_probe () {
  [[ $# -eq 4 ]] || usage_error "probe needs <id> <i> <j> <port>"
  require_host "$1" "$2"
  require_host "$1" "$3"
  [[ $4 =~ ^[0-9]+$ ]] || usage_error "bad port '$4'"
  # bash's /dev/tcp, so the probe needs nothing installed in the namespace
  # shellcheck disable=SC2016 # $0 and $1 expand in the inner bash
  ip netns exec "$(host_ns "$1" "$2")" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$(host_ip "$1" "$3")" "$4" 2>/dev/null
}

# Adds (or removes) each host's address to the other's blocked set, so both
# directions are dropped on both sides even if one side's rules were flushed.
set_blocked () {
  local action=$1 id=$2 i=$3 j=$4
  require_host "$id" "$i"
  require_host "$id" "$j"
  [[ $i -ne $j ]] || usage_error "cannot cut a host from itself"
  local a b pair
  for pair in "$i $j" "$j $i"; do
    read -r a b <<< "$pair"
    local ns element
    ns=$(host_ns "$id" "$a")
    element="{ $(host_ip "$id" "$b") }"
    if [[ $action == add ]]; then
      nft_in "$ns" add element inet "$PREFIX" blocked "$element"
    elif nft_in "$ns" get element inet "$PREFIX" blocked "$element" >/dev/null 2>&1; then
      # nft 1.0.6 has no 'destroy', and 'delete' fails on an absent element
      nft_in "$ns" delete element inet "$PREFIX" blocked "$element"
    fi
  done
}

cmd_cut () { [[ $# -eq 3 ]] || usage_error "cut needs <id> <i> <j>"; set_blocked add "$@"; }
cmd_heal () { [[ $# -eq 3 ]] || usage_error "heal needs <id> <i> <j>"; set_blocked remove "$@"; }

# Replaces the rules of a pair of chains (flush first keeps it idempotent).
set_chains () {
  local ns=$1 chain=$2 rule=${3:-}
  {
    echo "flush chain inet $PREFIX ${chain}_in"
    echo "flush chain inet $PREFIX ${chain}_out"
    if [[ -n $rule ]]; then
      echo "add rule inet $PREFIX ${chain}_in $rule"
      echo "add rule inet $PREFIX ${chain}_out $rule"
    fi
  } | ip netns exec "$ns" nft -f -
}

# isolate, rejoin and noloss: <id> <i>, then one pair of chains gets <rule> (or none).
cmd_host_chains () {
  local command=$1 chain=$2 rule=$3
  shift 3
  [[ $# -eq 2 ]] || usage_error "$command needs <id> <i>"
  require_host "$1" "$2"
  set_chains "$(host_ns "$1" "$2")" "$chain" "$rule"
}

cmd_loss () {
  [[ $# -eq 3 ]] || usage_error "loss needs <id> <i> <pct>"
  require_host "$1" "$2"
  [[ $3 =~ ^[0-9]+$ && $3 -le 100 ]] || usage_error "bad loss percentage '$3' (0-100)"
  # numgen's range is 0-99, so 100 % must be a plain drop and 0 % no rule at all
  local rule="numgen random mod 100 < $3 drop"
  [[ $3 -ne 100 ]] || rule=drop
  [[ $3 -ne 0 ]] || rule=
  set_chains "$(host_ns "$1" "$2")" loss "$rule"
}

cmd_heal_all () {
  [[ $# -eq 1 ]] || usage_error "heal-all needs <id>"
  check_id "$1"
  local n i ns
  n=$(host_count "$1")
  [[ $n -gt 0 ]] || die "no cluster '$1'"
  for (( i = 1; i <= n; i++ )); do
    ns=$(host_ns "$1" "$i")
    nft_in "$ns" flush set inet "$PREFIX" blocked
    set_chains "$ns" isolate
    set_chains "$ns" loss
  done
}

cmd_hosts () {
  [[ $# -eq 1 ]] || usage_error "hosts needs <id>"
  check_id "$1"
  host_count "$1"
}

main () {
  [[ $# -ge 1 ]] || { usage >&2; exit 2; }
  local command=$1
  shift
  case $command in
    -h|--help|help) usage; return 0 ;;
  esac
  require_tools
  case $command in
    up) cmd_up "$@" ;;
    nat-up) cmd_nat_up "$@" ;;
    # shellcheck source=netns-nat6.sh
    nat6-up) source "${BASH_SOURCE[0]%/*}/netns-nat6.sh"; cmd_nat6_up "$@" ;;
    down) cmd_down "$@" ;;
    down-stale) cmd_down_stale "$@" ;;
    ip) cmd_ip "$@" ;;
    exec) cmd_exec "$@" ;;
    probe) cmd_probe "$@" ;;
    cut) cmd_cut "$@" ;;
    heal) cmd_heal "$@" ;;
    isolate) cmd_host_chains isolate isolate drop "$@" ;;
    rejoin) cmd_host_chains rejoin isolate '' "$@" ;;
    loss) cmd_loss "$@" ;;
    noloss) cmd_host_chains noloss loss '' "$@" ;;
    heal-all) cmd_heal_all "$@" ;;
    hosts) cmd_hosts "$@" ;;
    *) usage_error "unknown command '$command'" ;;
  esac
}

main "$@"
