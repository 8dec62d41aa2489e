# shellcheck shell=bash
# nat6-up for netns-cluster.sh, which sources this file (it is not run on its own).
#
# The same six hosts as nat-up, on IPv6, so that libp2p acts on them: its
# private-address checks count 100.64.0.0/10 and every IPv4 range reserved
# for documentation as private, so DCUtR and AutoNAT never try there. The
# public segment is 3fff:<k>::/64, from the IPv6 documentation prefix
# 3fff::/20 (RFC 9637: never routed on the Internet), which libp2p counts as
# public and global unicast; the LANs are unique local fd00:<k>:a::/64 and
# fd00:<k>:b::/64 (private to libp2p), each behind a router that masquerades
# it (NAT66, nftables): conntrack NAT, port-preserving when the port is free,
# address- and port-dependent filtering, nothing forwarded in.
#
#   h1 relay host   3fff:<k>::10          h6 public member  3fff:<k>::20
#   h2 router A     3fff:<k>::1  / fd00:<k>:a::1   h3 host on LAN A  fd00:<k>:a::2
#   h4 router B     3fff:<k>::2  / fd00:<k>:b::1   h5 host on LAN B  fd00:<k>:b::2
#
# The public hosts have no default route, so a dial from them to a LAN address
# fails at once (no route), as a dial to a private address across the Internet
# would fail, only sooner.

# A host namespace with IPv6 on and no duplicate address detection (a fresh
# address is usable at once, not "tentative" for a second).
new_host6 () {
  local ns
  ns=$(host_ns "$1" "$2")
  ip netns add "$ns"
  ip netns exec "$ns" sh -c 'for c in all default; do echo 0 > /proc/sys/net/ipv6/conf/$c/accept_dad; echo 0 > /proc/sys/net/ipv6/conf/$c/accept_ra; done'
  ip -n "$ns" link set lo up
  host_ruleset | ip netns exec "$ns" nft -f -
}

cmd_nat6_up () {
  [[ $# -eq 1 ]] || usage_error "nat6-up needs <id>"
  local id=$1 k i
  begin_cluster "$id"
  k=$(subnet_octet "$id")
  for (( i = 1; i <= 6; i++ )); do new_host6 "$id" "$i"; done
  attach_host "$id" 1 "3fff:$k::10" 64
  attach_host "$id" 2 "3fff:$k::1" 64
  attach_host "$id" 4 "3fff:$k::2" 64
  attach_host "$id" 6 "3fff:$k::20" 64
  nat_lan "$id" 2 3 "fd00:$k:a" 6
  nat_lan "$id" 4 5 "fd00:$k:b" 6
  UP_ID=
  echo "cluster $id: relay 3fff:$k::10, public member 3fff:$k::20, LAN A fd00:$k:a::/64 behind 3fff:$k::1, LAN B fd00:$k:b::/64 behind 3fff:$k::2"
}
