#!/bin/bash
# make demo: CARP failover on Linux in one minute, for a first look.
#
# Two routers share the virtual address 10.99.0.100 (vhid 1) on a small LAN built from
# network namespaces; a client pings it. The master drops off the network (its cable is
# "cut": its switch port is disabled); the backup notices that the advertisements stopped
# and takes over; the client reaches 10.99.0.100 again, now at the backup. The cable comes
# back and the original master, which advertises more often, takes its role back. Each router runs `carpd`, a Linux test node built on carp-proto, the very protocol
# core of carp.ko. Run as root. Nothing outside the namespaces it creates is touched.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

it_install_deps
(cd "$ROOT" && cargo build --release -q -p carpd -p carpdump) || it_die "cargo build"
CARPD=$ROOT/target/release/carpd
CARPDUMP=$ROOT/target/release/carpdump

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { sed 's/^/   /'; }

it_init
W=$IT_WORK

say "A LAN in network namespaces: router1 (10.99.0.1), router2 (10.99.0.2), client (10.99.0.3)"
it_lan 3
it_capture_start "$W/lan.pcap"

say "Both routers run CARP vhid 1 for 10.99.0.100 (router1 advskew 0 advertises more often)"
echo "   router1# carpd eth0 vhid 1 advskew 0   pass demo 10.99.0.100/24"
echo "   router2# carpd eth0 vhid 1 advskew 100 pass demo 10.99.0.100/24"
it_bg n1 "$W/router1.log" "$CARPD" -q eth0 vhid 1 advskew 0 pass demo 10.99.0.100/24
it_bg n2 "$W/router2.log" "$CARPD" -q eth0 vhid 1 advskew 100 pass demo 10.99.0.100/24
it_wait_log "$W/router1.log" '-> MASTER' 8 || it_die "router1 did not become master"
sleep 1.5
echo "   router1: $(tail -1 "$W/router1.log")"
echo "   router2: $(tail -1 "$W/router2.log")"

say "The master holds the address; its MAC is the virtual 00:00:5e:00:01:01"
it_exec n1 ip -br addr show | grep -v '^lo' | show
it_exec n3 ping -c 1 -W 1 10.99.0.100 >/dev/null
echo "   client's ARP entry: $(it_exec n3 ip neigh show 10.99.0.100)"

say "The client pings 10.99.0.100 every 100 ms; now router1's cable is cut"
it_bg n3 "$W/ping.log" ping -D -i 0.1 -W 1 10.99.0.100
PING=$IT_LASTPID
sleep 1
T0=$(date +%s%N)
bridge -n "$(it_ns br)" link set dev p1 state 0
echo "   $(date +%T.%3N) router1 is off the LAN"
it_wait_log "$W/router2.log" '-> MASTER' 6 || it_die "router2 did not take over"
T1=$(date +%s%N)
echo "   $(date +%T.%3N) router2: $(tail -1 "$W/router2.log")"
sleep 1.5
it_stop "$PING" INT
echo "   client: $(grep -o '[0-9]* packets transmitted.*loss' "$W/ping.log" || echo 'see ping log')"
echo "   (lost: the pings sent while nobody answered for 10.99.0.100)"
echo "   client's ARP entry now: $(it_exec n3 ip neigh show 10.99.0.100)"
echo "   (same virtual MAC: the address moved, the client had nothing to re-learn)"
it_exec n2 ip -br addr show | grep -v '^lo' | show

say "router1's cable is back: it advertises more often, router2 steps back"
bridge -n "$(it_ns br)" link set dev p1 state 3
it_wait_log "$W/router2.log" 'MASTER -> BACKUP' 4 || it_log "router2 did not step back"
echo "   router2: $(tail -1 "$W/router2.log")"
echo "   router1: $(tail -1 "$W/router1.log") (it never stopped being master)"
sleep 0.5
it_capture_stop

say "What happened on the wire"
LAT=$(tshark -r "$W/lan.pcap" -d ip.proto==112,carp -Y carp -T fields -e frame.time_epoch -e ip.src 2>/dev/null |
    awk '$2=="10.99.0.1"{last=$1} $2=="10.99.0.2" && last && !d {printf "%.1f", ($1-last)*1000; d=1}')
echo "   router1's last advertisement -> router2's first: ${LAT:-?} ms"
echo "   (nominal master-down: 3 x advbase + advskew/256 = 3 + 100/256 s = 3390.6 ms)"
echo "   router2 took over $(( (T1 - T0) / 1000000 )) ms after the cut (its timer runs from the last advertisement it heard)"

say "Every CARP packet checked by carpdump (the core's own receive checks)"
"$CARPDUMP" "$W/lan.pcap" --pass demo --addr 10.99.0.100 | tail -4 | show

say "Done. Everything was created in namespaces $(it_ns '*') and is removed now."
