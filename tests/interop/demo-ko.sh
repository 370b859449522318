#!/bin/bash
# make demo-ko: the real carp.ko as a router on a Linux LAN, for a first look.
#
# As `make demo`, but router1 is the built carp.ko itself, running in the kernel harness
# (tests/kernel: a Linux process that plays the FreeBSD 15 kernel around the module), its
# simulated em0 plugged into the LAN; the administrator's commands are FreeBSD's. router2
# runs carpd (the protocol core on Linux). A client pings the shared address; router1's
# cable is cut and router2 takes over; the cable comes back and router1 takes its role
# back; then `kldunload carp` hands the address over for good. Run as root (make demo-ko).
# Nothing outside the namespaces it creates is touched.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

[[ -x "${KHARNESS:-}" && -f "${KO:-}" ]] || it_die "KHARNESS and KO must be set (make demo-ko)"
it_install_deps
(cd "$ROOT" && cargo build --release -q -p carpd -p carpdump) || it_die "cargo build"
CARPD=$ROOT/target/release/carpd
CARPDUMP=$ROOT/target/release/carpdump

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { sed 's/^/   /'; }
# The harness's kernel log and devd lines since mark M (line numbers of its log).
events() { tail -n +"$1" "$W/router1.log" | grep -aE 'log: carp|devd: !system=CARP' | sed -E 's/^ *\[[0-9.]+\] //' | show; }
mark() { wc -l <"$W/router1.log"; }

it_init
W=$IT_WORK

say "A LAN in network namespaces: router1 (10.99.0.1, carp.ko), router2 (10.99.0.2, carpd), client (10.99.0.3)"
it_lan 3
it_capture_start "$W/lan.pcap"
it_exec n1 ip addr flush dev eth0
it_exec n1 sh -c 'echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6 2>/dev/null; true'
cat >"$W/router1.kh" <<EOF
nic em0 wire lan mac 02:00:00:00:10:01
wire-attach lan eth0
kldload carp
ifconfig em0 inet 10.99.0.1/24
ifconfig em0 vhid 1 advskew 0 pass demo alias 10.99.0.100/32
await $W/show 60
ifconfig em0
signal $W/shown
await $W/unload 120
kldunload carp
signal $W/unloaded
await $W/end 60
EOF

say "router1 loads carp.ko and configures vhid 1, as on FreeBSD"
echo "   router1# kldload carp"
echo "   router1# ifconfig em0 inet 10.99.0.1/24"
echo "   router1# ifconfig em0 vhid 1 advskew 0 pass demo alias 10.99.0.100/32"
it_bg n1 "$W/router1.log" "$KHARNESS" --real-time -v --no-frames --ko "$KO" "$W/router1.kh"
K=$IT_LASTPID
it_wait_log "$W/router1.log" '1@em0: BACKUP -> MASTER' 8 || it_die "router1 did not become master"
events 1
echo "   router2# carpd eth0 vhid 1 advskew 100 pass demo 10.99.0.100/24"
it_bg n2 "$W/router2.log" "$CARPD" -q eth0 vhid 1 advskew 100 pass demo 10.99.0.100/24
it_wait_log "$W/router2.log" '-> BACKUP' 8 || it_die "router2 did not start"
echo "   router2: $(tail -1 "$W/router2.log")"
touch "$W/show"
it_wait 5 test -e "$W/shown" || it_die "no ifconfig output"
echo "   router1# ifconfig em0"
sed -n '/\$ ifconfig em0 ->/,/peer /p' "$W/router1.log" | grep -a '^  |' | sed 's/^  | /   /'

say "The client pings 10.99.0.100 at the virtual MAC"
it_exec n3 ping -c 1 -W 1 10.99.0.100 >/dev/null
echo "   client's ARP entry: $(it_exec n3 ip neigh show 10.99.0.100)"

say "The client pings every 100 ms; router1's cable is cut"
it_bg n3 "$W/ping.log" ping -D -i 0.1 -W 1 10.99.0.100
PING=$IT_LASTPID
sleep 1
bridge -n "$(it_ns br)" link set dev p1 state 0
echo "   $(date +%T.%3N) router1 is off the LAN"
it_wait_log "$W/router2.log" '-> MASTER' 6 || it_die "router2 did not take over"
echo "   $(date +%T.%3N) router2: $(tail -1 "$W/router2.log")"
sleep 1.5
it_stop "$PING" INT
echo "   client: $(grep -o '[0-9]* packets transmitted.*loss' "$W/ping.log" || echo 'see ping log')"

say "router1's cable is back: it advertises more often, router2 steps back"
M=$(mark)
bridge -n "$(it_ns br)" link set dev p1 state 3
it_wait_log "$W/router2.log" 'MASTER -> BACKUP' 4 || it_log "router2 did not step back"
echo "   router2: $(tail -1 "$W/router2.log")"
sleep 0.5
events "$M"

say "router1# kldunload carp: the shared address is removed, router2 takes over"
M=$(mark)
touch "$W/unload"
it_wait 5 test -e "$W/unloaded" || it_die "kldunload did not finish"
events "$M"
it_wait_log "$W/router2.log" '-> MASTER' 6 || it_die "router2 did not take over"
echo "   router2: $(grep -a -- '-> MASTER' "$W/router2.log" | tail -1)"
touch "$W/end"
it_wait 15 bash -c "! kill -0 $K 2>/dev/null" || it_log "the harness did not finish"
echo "   harness: $(tail -1 "$W/router1.log") (unload checked: no lock held, nothing leaked, every hook cleared)"
it_capture_stop

say "Every CARP packet checked by carpdump"
"$CARPDUMP" "$W/lan.pcap" --pass demo --addr 10.99.0.100 | tail -3 | show
