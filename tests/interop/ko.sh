# shellcheck shell=bash
# The real carp.ko on a real (Linux) LAN: interop tests where one or two nodes run the
# built module inside the kernel harness (tests/kernel, kharness --real-time), its
# simulated em0 attached to the node's eth0 through a packet socket. Sourced by run.sh
# (needs KHARNESS and KO). Each test writes the harness script it runs; the harness
# checks the kernel side as in every harness run (locks, epoch, leaks, clean unload);
# this shell checks the wire and the peers.
#
# A carp.ko node's Linux side has no address (flushed, IPv6 off): only the simulated
# kernel answers on that port.

# ko_node NODE: make NODE's eth0 a bare port for the harness.
ko_node() {
    it_exec "$1" ip addr flush dev eth0
    it_exec "$1" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6 2>/dev/null; true'
}

# ko_run NODE LOG SCRIPT: run SCRIPT in kharness (real time, verbose log) on NODE.
ko_run() {
    local node=$1 log=$2 script=$3
    ko_node "$node"
    it_bg "$node" "$log" "$KHARNESS" --real-time -v --ko "$KO" --out "$T/out-$node" \
        --carpdump "$CARPDUMP" "$script"
}

# ko_state LOG VHID: the vhid's last state transition in a harness log.
ko_state() { it_last_state "$1" "log: carp: $2@em0: "; }
ko_is() { [[ "$(ko_state "$1" "$2")" == "$3" ]]; }
ko_wait() { it_wait "$4" ko_is "$1" "$2" "$3"; }

# ko_finish PID LOG: tell the harness script to end (file $T/done), wait (bounded) for it
# to unload and check the kernel, and require "ok".
ko_finish() {
    local pid=$1 log=$2 i
    touch "$T/done"
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    it_stop "$pid" TERM >/dev/null 2>&1
    grep -aqE '^ok ' "$log" || { grep -aE 'FAIL|FATAL|kharness:' "$log" | head -5; return 1; }
}

# The common head of a harness script: em0 on the LAN at 10.99.0.N (a MAC of its own).
ko_head() { # N
    cat <<EOF
nic em0 wire lan mac 02:00:00:00:10:0$1
wire-attach lan eth0
kldload carp
ifconfig em0 inet 10.99.0.$1/24
EOF
}

# ---------------------------------------------------------------- carp.ko vs ucarp
# ucarp is MASTER (advskew 10); carp.ko (advskew 100) stays BACKUP under it, and takes
# over at the protocol's time, 3 * 1 + 100/256 = 3.390625 s after ucarp's last advert,
# when ucarp is killed.
test_ko_ucarp_takeover() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    it_ucarp n1 "$T/ucarp.log" 42 $PASS 10.99.0.100 1 10
    local u=$IT_LASTPID
    it_wait_log "$T/ucarp.log" 'state: MASTER' 8 || fail "ucarp did not become MASTER" || return 1
    { ko_head 2; cat <<EOF
ifconfig em0 vhid 42 advskew 100 pass $PASS alias 10.99.0.100/32
await $T/done 60
expect stat ipackets >=3
expect stat badauth 0
EOF
    } >"$T/ko.kh"
    ko_run n2 "$T/ko.log" "$T/ko.kh"
    local k=$IT_LASTPID
    ko_wait "$T/ko.log" 42 BACKUP 5 || fail "carp.ko not BACKUP" || return 1
    sleep 4
    ko_is "$T/ko.log" 42 BACKUP || fail "carp.ko did not stay BACKUP under ucarp" || return 1
    it_stop "$u" KILL
    ko_wait "$T/ko.log" 42 MASTER 6 || fail "carp.ko did not take over" || return 1
    grep -aq '42@em0: BACKUP -> MASTER (master timed out)' "$T/ko.log" || fail "not by master-down" || return 1
    sleep 1.5
    ko_finish "$k" "$T/ko.log" || fail "harness run failed" || return 1
    it_capture_stop
    local lat; lat=$(it_takeover_ms "$T/cap.pcap" 10.99.0.1 10.99.0.2)
    echo "carp.ko took over ${lat} ms after ucarp's last advert (nominal 3390.625)"
    awk -v l="$lat" 'BEGIN { exit !(l >= 3390.6 && l <= 3440) }' || fail "takeover at $lat ms" || return 1
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.100 --vhid 42
}

# carp.ko preempts ucarp (net.inet.carp.preempt=1, advskew 10 < 100); ucarp goes back to
# BACKUP. kldunload carp: carp.ko stops advertising (and removes the address) and ucarp
# takes over.
test_ko_preempts_ucarp_then_unloads() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    it_ucarp n1 "$T/ucarp.log" 42 $PASS 10.99.0.100 1 100
    it_wait_log "$T/ucarp.log" 'state: MASTER' 8 || fail "ucarp did not become MASTER" || return 1
    { ko_head 2; cat <<EOF
sysctl net.inet.carp.preempt=1
ifconfig em0 vhid 42 advskew 10 pass $PASS alias 10.99.0.100/32
await $T/unload 60
kldunload carp
expect log "carp: unload: removed CARP address 10.99.0.100 from em0"
signal $T/unloaded
await $T/done 60
EOF
    } >"$T/ko.kh"
    ko_run n2 "$T/ko.log" "$T/ko.kh"
    local k=$IT_LASTPID
    ko_wait "$T/ko.log" 42 MASTER 6 || fail "carp.ko did not become MASTER" || return 1
    grep -aq 'BACKUP -> MASTER (preempting a slower master)' "$T/ko.log" || fail "carp.ko: not by preemption" || return 1
    it_wait_log "$T/ucarp.log" 'Preferred master advertised: going back to BACKUP' 4 || fail "ucarp did not yield" || return 1
    it_wait 3 it_has_addr n1 10.99.0.100 && fail "ucarp kept the VIP" && return 1
    echo "carp.ko preempted ucarp"
    touch "$T/unload"
    it_wait 5 test -e "$T/unloaded" || fail "kldunload did not finish" || return 1
    it_wait 6 bash -c "(( \$(grep -c 'state: MASTER' '$T/ucarp.log') >= 2 ))" || fail "ucarp did not take over" || return 1
    it_has_addr n1 10.99.0.100 || fail "ucarp did not add the VIP" || return 1
    echo "ucarp took over after kldunload carp"
    ko_finish "$k" "$T/ko.log" || fail "harness run failed" || return 1
    it_capture_stop
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.100 --vhid 42
}

# A wrong password on either side: neither accepts the other's adverts (both MASTER),
# and carp.ko counts ucarp's as bad authentication in net.inet.carp.stats.
test_ko_ucarp_password_mismatch() {
    it_lan 2
    it_ucarp n1 "$T/ucarp.log" 42 wrongpass 10.99.0.100 1 10
    it_wait_log "$T/ucarp.log" 'state: MASTER' 8 || fail "ucarp did not become MASTER" || return 1
    { ko_head 2; cat <<EOF
ifconfig em0 vhid 42 advskew 100 pass $PASS alias 10.99.0.100/32
advance 5
expect state em0 vhid 42 MASTER
expect stat badauth >=3
netstat -s -p carp
expect output "discarded for bad authentication"
await $T/done 60
EOF
    } >"$T/ko.kh"
    ko_run n2 "$T/ko.log" "$T/ko.kh"
    local k=$IT_LASTPID
    ko_wait "$T/ko.log" 42 MASTER 6 || fail "carp.ko did not become MASTER" || return 1
    sleep 2
    it_wait_log "$T/ko.log" 'discarded for bad authentication' 5 || fail "no netstat output" || return 1
    grep -aE '^ *\| *[0-9]+ discarded for bad authentication' "$T/ko.log" | tail -1
    grep -q 'going back to BACKUP' "$T/ucarp.log" && fail "ucarp accepted a wrong-password advert" && return 1
    ko_finish "$k" "$T/ko.log" || fail "harness run failed" || return 1
    echo "both MASTER, adverts rejected on both sides"
}

# ---------------------------------------------------------------- carp.ko vs keepalived
# VRRPv3 (carpver 3): keepalived (priority 100) against carp.ko (200) and the other way
# round; the higher priority wins, the other takes over when the master stops.
ko_ka_test() { # FAMILY VIP(keepalived form) VIP(ifconfig form) OURSRC
    local fam=$1 kavip=$2 ourvip=$3 src=$4 inet=inet
    [[ "$fam" == v6 ]] && inet=inet6
    it_lan 2 $fam
    it_capture_start "$T/cap.pcap"
    it_keepalived n1 "$T/ka.log" ka 7 100 0.1 "$kavip"
    { ko_head 2
      [[ "$fam" == v6 ]] && echo "ifconfig em0 inet6 fe80::ff:fe00:2%em0/64" && echo "ifconfig em0 inet6 fd00:99::2/64 no_dad"
      cat <<EOF
sysctl net.inet.carp.preempt=1
ifconfig em0 $inet $ourvip vhid 7 carpver 3 vrrpprio 200 vrrpinterval 10 alias
await $T/stop 60
kldunload carp
signal $T/stopped
await $T/done 60
EOF
    } >"$T/ko.kh"
    ko_run n2 "$T/ko.log" "$T/ko.kh"
    local k=$IT_LASTPID
    ko_wait "$T/ko.log" 7 MASTER 6 || fail "carp.ko (prio 200) not MASTER" || return 1
    it_wait_log "$T/ka.log" 'Entering BACKUP STATE' 5 || fail "keepalived not BACKUP" || return 1
    sleep 1
    ko_is "$T/ko.log" 7 MASTER || fail "carp.ko lost MASTER" || return 1
    echo "carp.ko prio 200 MASTER, keepalived prio 100 BACKUP"
    local kam; kam=$(it_count_log "$T/ka.log" 'Entering MASTER STATE')
    touch "$T/stop"
    it_wait 5 test -e "$T/stopped" || fail "kldunload did not finish" || return 1
    it_wait 3 bash -c "(( \$(grep -c 'Entering MASTER STATE' '$T/ka.log') > $kam ))" ||
        fail "keepalived did not take over" || return 1
    echo "keepalived took over after kldunload carp"
    ko_finish "$k" "$T/ko.log" || fail "harness run failed" || return 1
    it_capture_stop
    check_adverts "$T/cap.pcap" "$src" --all-vhids || return 1
    it_teardown
    rm -f "$T/done" "$T/stop" "$T/stopped"
    # keepalived (200) MASTER, carp.ko (100) BACKUP, takes over when keepalived stops.
    it_lan 2 $fam
    it_capture_start "$T/cap2.pcap"
    it_keepalived n1 "$T/ka2.log" ka 7 200 0.1 "$kavip"
    local ka=$IT_LASTPID
    it_wait_log "$T/ka2.log" 'Entering MASTER STATE' 5 || fail "keepalived not MASTER" || return 1
    { ko_head 2
      [[ "$fam" == v6 ]] && echo "ifconfig em0 inet6 fe80::ff:fe00:2%em0/64" && echo "ifconfig em0 inet6 fd00:99::2/64 no_dad"
      cat <<EOF
ifconfig em0 $inet $ourvip vhid 7 carpver 3 vrrpprio 100 vrrpinterval 10 alias
await $T/done 60
EOF
    } >"$T/ko2.kh"
    ko_run n2 "$T/ko2.log" "$T/ko2.kh"
    k=$IT_LASTPID
    ko_wait "$T/ko2.log" 7 BACKUP 5 || fail "carp.ko (prio 100) not BACKUP" || return 1
    sleep 1
    ko_is "$T/ko2.log" 7 BACKUP || fail "carp.ko did not stay BACKUP" || return 1
    it_stop "$ka" TERM
    ko_wait "$T/ko2.log" 7 MASTER 3 || fail "carp.ko did not take over" || return 1
    echo "carp.ko took over when keepalived stopped"
    ko_finish "$k" "$T/ko2.log" || fail "harness run failed" || return 1
    it_capture_stop
    check_adverts "$T/cap2.pcap" "$src" --all-vhids
}

test_ko_keepalived_vrrp3_v4() { ko_ka_test "" 10.99.0.100/24 10.99.0.100/32 10.99.0.2; }
test_ko_keepalived_vrrp3_v6() { ko_ka_test v6 fd00:99::100/64 fd00:99::100/128 fe80::ff:fe00:2; }

# ---------------------------------------------------------------- carp.ko vs carpd, vs itself
# carp.ko (n1, MASTER) and carpd (n2); a Linux client (n3) pings the shared address; the
# master's cable is pulled (cable em0 down in the harness): carpd takes over, the client
# keeps reaching the address at the same virtual MAC.
test_ko_carpd_failover() {
    it_lan 3
    it_capture_start "$T/cap.pcap"
    { ko_head 1; cat <<EOF
ifconfig em0 vhid 1 pass $PASS alias 10.99.0.200/32
await $T/cut 60
cable em0 down
await $T/done 60
EOF
    } >"$T/ko.kh"
    ko_run n1 "$T/ko.log" "$T/ko.kh"
    local k=$IT_LASTPID
    ko_wait "$T/ko.log" 1 MASTER 6 || fail "carp.ko not MASTER" || return 1
    carpd n2 "$T/carpd.log" eth0 vhid 1 advskew 100 pass $PASS 10.99.0.200/24
    wait_state "$T/carpd.log" 1 BACKUP 3 || fail "carpd not BACKUP" || return 1
    it_exec n3 ping -c 3 -i 0.2 -W 1 10.99.0.200 >/dev/null || fail "ping before failover" || return 1
    it_exec n3 ip neigh show 10.99.0.200 | grep -q '00:00:5e:00:01:01' || fail "VIP not at the virtual MAC" || return 1
    echo "client reaches 10.99.0.200 at 00:00:5e:00:01:01 (carp.ko MASTER)"
    touch "$T/cut"
    wait_state "$T/carpd.log" 1 MASTER 6 || fail "carpd did not take over" || return 1
    it_exec n3 ping -c 3 -i 0.2 -W 1 10.99.0.200 >/dev/null || fail "ping after failover" || return 1
    it_exec n3 ip neigh show 10.99.0.200 | grep -q '00:00:5e:00:01:01' || fail "VIP moved off the virtual MAC" || return 1
    echo "after the cable cut carpd is MASTER; the client still reaches it at the same MAC"
    ko_finish "$k" "$T/ko.log" || fail "harness run failed" || return 1
    it_capture_stop
    local lat; lat=$(it_takeover_ms "$T/cap.pcap" 10.99.0.1 10.99.0.2)
    echo "carpd took over ${lat} ms after carp.ko's last advert"
    check_adverts "$T/cap.pcap" 10.99.0.1 --pass $PASS --addr 10.99.0.200 --vhid 1
}

# Two carp.ko hosts in the classic model with arpbalance: carp0 (vhid 1) and carp1
# (vhid 2) share 10.99.0.50; n1 is MASTER of vhid 1, n2 of vhid 2. Linux clients
# 10.99.0.3 (odd) and 10.99.0.4 (even) are answered by different hosts, each with its
# vhid's virtual MAC; when n1 stops, n2 answers both.
test_ko_classic_arpbalance() {
    it_lan 4
    it_capture_start "$T/cap.pcap"
    { ko_head 1; cat <<EOF
sysctl net.inet.carp.arpbalance=1
ifconfig carp0 create
ifconfig carp0 vhid 1 pass $PASS 10.99.0.50/24
ifconfig carp1 create
ifconfig carp1 vhid 2 advskew 100 pass $PASS 10.99.0.50/24
await $T/stop 60
kldunload carp
signal $T/stopped
await $T/done 60
EOF
    } >"$T/ko1.kh"
    { ko_head 2; cat <<EOF
sysctl net.inet.carp.arpbalance=1
ifconfig carp0 create
ifconfig carp0 vhid 1 advskew 100 pass $PASS 10.99.0.50/24
ifconfig carp1 create
ifconfig carp1 vhid 2 pass $PASS 10.99.0.50/24
await $T/done 60
EOF
    } >"$T/ko2.kh"
    ko_run n1 "$T/ko1.log" "$T/ko1.kh"
    local k1=$IT_LASTPID
    ko_run n2 "$T/ko2.log" "$T/ko2.kh"
    local k2=$IT_LASTPID
    ko_wait "$T/ko1.log" 1 MASTER 6 || fail "n1 not MASTER of vhid 1" || return 1
    ko_wait "$T/ko2.log" 2 MASTER 6 || fail "n2 not MASTER of vhid 2" || return 1
    sleep 1
    it_exec n3 ping -c 2 -i 0.2 -W 1 10.99.0.50 >/dev/null || fail "n3: ping failed" || return 1
    it_exec n4 ping -c 2 -i 0.2 -W 1 10.99.0.50 >/dev/null || fail "n4: ping failed" || return 1
    local r3 r4
    r3=$(it_exec n3 ip neigh show 10.99.0.50 | awk '{print $5}')
    r4=$(it_exec n4 ip neigh show 10.99.0.50 | awk '{print $5}')
    echo "arpbalance: 10.99.0.3 -> $r3, 10.99.0.4 -> $r4"
    [[ -n "$r3" && -n "$r4" && "$r3" != "$r4" ]] || fail "clients not split between the vhids" || return 1
    touch "$T/stop"
    it_wait 5 test -e "$T/stopped" || fail "n1's kldunload did not finish" || return 1
    ko_wait "$T/ko2.log" 1 MASTER 6 || fail "n2 did not take over vhid 1" || return 1
    it_exec n3 ip neigh flush dev eth0
    it_exec n4 ip neigh flush dev eth0
    it_exec n3 ping -c 2 -i 0.2 -W 1 10.99.0.50 >/dev/null || fail "n3: ping after failover" || return 1
    it_exec n4 ping -c 2 -i 0.2 -W 1 10.99.0.50 >/dev/null || fail "n4: ping after failover" || return 1
    echo "after n1 unloaded carp.ko, n2 answers both clients"
    ko_finish "$k2" "$T/ko2.log" || fail "n2's harness run failed" || return 1
    ko_finish "$k1" "$T/ko1.log" || fail "n1's harness run failed" || return 1
    it_capture_stop
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.50 --all-vhids
}

KO_TESTS=(ko_ucarp_takeover ko_preempts_ucarp_then_unloads ko_ucarp_password_mismatch
    ko_keepalived_vrrp3_v4 ko_keepalived_vrrp3_v6 ko_carpd_failover ko_classic_arpbalance)
