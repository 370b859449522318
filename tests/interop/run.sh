#!/bin/bash
# Interop suite: carp-proto (through carpd/carpsend/carpdump) against real, independent
# CARP/VRRP implementations (ucarp, keepalived) and against itself, in network namespaces.
# Run as root (make test calls it). Everything is created here and deleted on exit; every
# wait is bounded. Usage: run.sh [TEST...]   (default: all; list with run.sh -l)
#
# Each test captures the LAN and checks every advertisement our nodes sent with tshark
# (checksum good) and with carpdump (the core's own receive checks: valid).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

it_install_deps
(cd "$ROOT" && cargo build --release -q -p carpd -p carpdump) || it_die "cargo build"
CARPD=$ROOT/target/release/carpd
CARPSEND=$ROOT/target/release/carpsend
CARPDUMP=$ROOT/target/release/carpdump

it_init
PASS=s3cretpw

# ---------------------------------------------------------------- helpers
# state LOG VHID: the vhid's current state according to carpd's log (last transition).
state() { it_last_state "$1" "^carp: $2@eth0: "; }
is_state() { [[ "$(state "$1" "$2")" == "$3" ]]; }
wait_state() { it_wait "$4" is_state "$1" "$2" "$3"; }

# carpd NODE LOG ARGS...: start carpd (verbose: receive diagnostics on stderr).
carpd() { local n=$1 l=$2; shift 2; it_bg "$n" "$l" "$CARPD" -v "$@"; }

# check_adverts CAP SRC CARPDUMP-ARGS...: every CARP/VRRP packet from SRC in CAP has a good
# checksum according to tshark and is valid according to carpdump.
check_adverts() {
    local cap=$1 src=$2; shift 2
    local fld="ip.src" decode=() n bad
    [[ "$src" == *:* ]] && fld="ipv6.src"
    # CARP (version 2) packets: decode as CARP; VRRPv3: the default dissector.
    n=$(tshark -r "$cap" -d ip.proto==112,carp -Y "carp && carp.version == 2 && $fld == $src" -T fields -e carp.checksum.status 2>/dev/null | wc -l)
    bad=$(tshark -r "$cap" -d ip.proto==112,carp -Y "carp && carp.version == 2 && $fld == $src" -T fields -e carp.checksum.status 2>/dev/null | grep -vc '^1$')
    local nv badv
    nv=$(tshark -r "$cap" -Y "vrrp && vrrp.version == 3 && $fld == $src" -T fields -e vrrp.checksum.status 2>/dev/null | wc -l)
    badv=$(tshark -r "$cap" -Y "vrrp && vrrp.version == 3 && $fld == $src" -T fields -e vrrp.checksum.status 2>/dev/null | grep -vc '^1$')
    if ((n + nv == 0)); then echo "no advertisement from $src in the capture"; return 1; fi
    if ((bad + badv > 0)); then echo "tshark: $bad CARP / $badv VRRP packets from $src with a bad checksum"; return 1; fi
    local dump; dump=$("$CARPDUMP" "$cap" "$@" 2>&1)
    local ours notvalid
    ours=$(awk -F'\t' -v S="$src" '$2 == S' <<<"$dump" | wc -l)
    notvalid=$(awk -F'\t' -v S="$src" '$2 == S && $3 != "valid"' <<<"$dump")
    if ((ours != n + nv)); then echo "carpdump saw $ours packets from $src, tshark $((n + nv))"; return 1; fi
    if [[ -n "$notvalid" ]]; then echo "carpdump: not valid: $(head -3 <<<"$notvalid")"; return 1; fi
    echo "$src: $((n + nv)) adverts, tshark checksum good, carpdump valid"
}

# run_test NAME: run test_NAME in a fresh LAN, record pass/fail, tear everything down.
run_test() {
    local name=$1 out rc
    IT_PREFIX="ci$$$(printf '%02d' $((IT_NPASS + IT_NFAIL)))"
    mkdir -p "$IT_WORK/$name"
    T=$IT_WORK/$name
    # In this shell (not a subshell), so that the PIDs and namespaces it records are
    # cleaned up here whatever happens.
    "test_$name" >"$T/out.txt" 2>&1
    rc=$?
    out=$(cat "$T/out.txt")
    it_teardown
    if ((rc == 0)); then
        it_pass "$name"
        [[ -n "${VERBOSE:-}" ]] && sed 's/^/     /' <<<"$out"
    else
        it_fail "$name" "$(tail -1 <<<"$out")"
        sed 's/^/     | /' <<<"$out" | tail -15
        for f in "$T"/*.log; do
            [[ -f "$f" ]] || continue
            echo "     --- $(basename "$f")"
            grep -av 'Spawning\|dangerous' "$f" | tail -8 | sed 's/^/     | /'
        done
    fi
}

fail() { echo "$*"; return 1; }

# ---------------------------------------------------------------- ucarp
# We preempt ucarp (lower advskew + preempt), then it takes over when we stop (our final
# advertisement hands over at once).
test_ucarp_preempt_and_handover() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    it_ucarp n1 "$T/ucarp.log" 42 $PASS 10.99.0.100 1 100
    it_wait_log "$T/ucarp.log" 'state: MASTER' 8 || fail "ucarp did not become MASTER" || return 1
    carpd n2 "$T/carpd.log" preempt eth0 vhid 42 advskew 10 pass $PASS 10.99.0.100/24
    local p=$IT_LASTPID
    wait_state "$T/carpd.log" 42 MASTER 6 || fail "carpd did not become MASTER" || return 1
    grep -q 'BACKUP -> MASTER (preempting a slower master)' "$T/carpd.log" || fail "carpd: not by preemption" || return 1
    it_wait_log "$T/ucarp.log" 'Preferred master advertised: going back to BACKUP' 4 || fail "ucarp did not yield" || return 1
    it_wait 3 it_has_addr n1 10.99.0.100 && fail "ucarp kept the VIP" && return 1
    it_exec n2 ip -o addr show dev carp42 | grep -q '10.99.0.100/24' || fail "carpd has no VIP" || return 1
    echo "carpd preempted ucarp"
    sleep 2.5 # a few adverts at our own pace: ucarp stays BACKUP
    [[ $(it_count_log "$T/ucarp.log" 'state: MASTER') == 1 ]] || fail "ucarp flapped" || return 1
    local t0; t0=$(date +%s%N)
    it_stop "$p" TERM || fail "carpd exit status $?" || return 1
    it_wait_log "$T/ucarp.log" 'Putting MASTER DOWN|state: MASTER.*' 3 || fail "ucarp did not take over" || return 1
    it_wait 3 bash -c "(( \$(grep -c 'state: MASTER' '$T/ucarp.log') >= 2 ))" || fail "ucarp did not take over" || return 1
    echo "ucarp took over $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM (ucarp polls its pcap every second)"
    it_has_addr n1 10.99.0.100 || fail "ucarp did not add the VIP" || return 1
    it_capture_stop
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.100 --vhid 42
}

# ucarp is master; when it stops, we take over at the nominal master-down interval
# (3 * advbase + advskew/256 = 3.390625 s after its last advertisement on the wire).
test_ucarp_stops_we_take_over() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    it_ucarp n1 "$T/ucarp.log" 42 $PASS 10.99.0.100 1 10
    local u=$IT_LASTPID
    it_wait_log "$T/ucarp.log" 'state: MASTER' 8 || fail "ucarp did not become MASTER" || return 1
    carpd n2 "$T/carpd.log" eth0 vhid 42 advskew 100 pass $PASS 10.99.0.100/24
    wait_state "$T/carpd.log" 42 BACKUP 3 || fail "carpd not BACKUP" || return 1
    sleep 4
    is_state "$T/carpd.log" 42 BACKUP || fail "carpd did not stay BACKUP under ucarp" || return 1
    it_stop "$u" KILL
    wait_state "$T/carpd.log" 42 MASTER 6 || fail "carpd did not take over" || return 1
    grep -q 'BACKUP -> MASTER (master timed out)' "$T/carpd.log" || fail "not by master-down timeout" || return 1
    sleep 1.5
    it_capture_stop
    local lat; lat=$(it_takeover_ms "$T/cap.pcap" 10.99.0.1 10.99.0.2)
    echo "takeover ${lat} ms after ucarp's last advert (nominal 3390.625)"
    awk -v l="$lat" 'BEGIN { exit !(l >= 3390.6 && l <= 3420) }' || fail "takeover at $lat ms, expected 3390.6..3420" || return 1
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.100 --vhid 42
}

# Crafted bad advertisements (carpsend: the core's wire+auth with one fault each) are
# rejected by ucarp and by carpd alike; a correct one is accepted by both (control).
test_bad_adverts_rejected_by_both() {
    # ucarp is MASTER of vhid 42 on n1, carpd MASTER of vhid 43 on n2; n3 sends.
    it_lan 3
    it_ucarp n1 "$T/ucarp.log" 42 $PASS 10.99.0.100 1 100
    carpd n2 "$T/carpd.log" eth0 vhid 43 advskew 100 pass $PASS 10.99.0.101/24
    it_wait_log "$T/ucarp.log" 'state: MASTER' 8 || fail "ucarp not MASTER" || return 1
    wait_state "$T/carpd.log" 43 MASTER 8 || fail "carpd not MASTER" || return 1
    local v vip fault
    for v in 42 43; do
        vip=10.99.0.100; [[ $v == 43 ]] && vip=10.99.0.101
        for fault in "--pass wrongpass --addr $vip" "--pass $PASS --addr 10.99.0.222" \
            "--pass $PASS --addr $vip --ttl 1" "--pass $PASS --addr $vip --bad-checksum"; do
            # advskew 0 would make both yield if they accepted it.
            # shellcheck disable=SC2086
            it_exec n3 "$CARPSEND" --iface eth0 --src 10.99.0.3 --vhid $v --advskew 0 $fault >/dev/null ||
                fail "carpsend failed" || return 1
            sleep 1.1 # ucarp reads its capture once a second
        done
    done
    sleep 1
    [[ $(it_count_log "$T/ucarp.log" 'Bad digest') -ge 2 ]] || fail "ucarp did not report 2 bad digests" || return 1
    it_count_log "$T/ucarp.log" 'Bad TTL' | grep -qv '^0$' || fail "ucarp did not reject TTL 1" || return 1
    it_count_log "$T/ucarp.log" 'Bad IP checksum' | grep -qv '^0$' || fail "ucarp did not reject the bad checksum" || return 1
    grep -q 'going back to BACKUP' "$T/ucarp.log" && fail "ucarp accepted a bad advert" && return 1
    [[ $(it_count_log "$T/carpd.log" 'incorrect hash for VHID 43') -ge 2 ]] || fail "carpd: no 2 bad_auth" || return 1
    grep -q 'received ttl 1 != 255' "$T/carpd.log" || fail "carpd: TTL 1 not rejected" || return 1
    grep -q 'checksum failed' "$T/carpd.log" || fail "carpd: bad checksum not rejected" || return 1
    is_state "$T/carpd.log" 43 MASTER || fail "carpd accepted a bad advert" || return 1
    echo "ucarp and carpd rejected wrong password, wrong address, TTL 1 and bad checksum"
    # Control: correct adverts make both yield.
    it_exec n3 "$CARPSEND" --iface eth0 --src 10.99.0.3 --vhid 42 --advskew 0 --pass $PASS --addr 10.99.0.100 >/dev/null
    it_exec n3 "$CARPSEND" --iface eth0 --src 10.99.0.3 --vhid 43 --advskew 0 --pass $PASS --addr 10.99.0.101 >/dev/null
    it_wait_log "$T/ucarp.log" 'going back to BACKUP' 3 || fail "ucarp ignored a correct advert" || return 1
    wait_state "$T/carpd.log" 43 BACKUP 2 || fail "carpd ignored a correct advert" || return 1
    echo "both accepted the correct advertisement and went BACKUP"
}

# ---------------------------------------------------------------- keepalived (VRRPv3)
ka_pair() { # FAMILY VIP KAPRIO OURPRIO
    local fam=$1 vip=$2 kaprio=$3 ourprio=$4
    it_lan 2 $fam
    it_capture_start "$T/cap.pcap"
    it_keepalived n1 "$T/ka.log" ka 7 "$kaprio" 0.1 "$vip"
    KA=$IT_LASTPID
    # VRRP elects by priority only with preemption (RFC 9568 Preempt_Mode; FreeBSD: the
    # net.inet.carp.preempt sysctl).
    carpd n2 "$T/carpd.log" preempt eth0 vhid 7 carpver 3 vrrpprio "$ourprio" vrrpinterval 10 "$vip"
    CD=$IT_LASTPID
}

ka_test() { # FAMILY VIP OURSRC
    local fam=$1 vip=$2 src=$3
    # Election by priority: we (200) win over keepalived (100).
    ka_pair "$fam" "$vip" 100 200
    wait_state "$T/carpd.log" 7 MASTER 5 || fail "carpd (prio 200) not MASTER" || return 1
    it_wait_log "$T/ka.log" 'Entering BACKUP STATE' 5 || fail "keepalived not BACKUP" || return 1
    sleep 1
    is_state "$T/carpd.log" 7 MASTER || fail "carpd lost MASTER" || return 1
    echo "carpd prio 200 MASTER, keepalived prio 100 BACKUP"
    local kam; kam=$(it_count_log "$T/ka.log" 'Entering MASTER STATE')
    it_stop "$CD" TERM
    it_wait 3 bash -c "(( \$(grep -c 'Entering MASTER STATE' '$T/ka.log') > $kam ))" ||
        fail "keepalived did not take over" || return 1
    echo "keepalived took over when carpd stopped"
    it_capture_stop
    check_adverts "$T/cap.pcap" "$src" --all-vhids || return 1
    it_teardown
    # The other way round: keepalived (200) master, we (100) take over when it stops.
    ka_pair "$fam" "$vip" 200 100
    it_wait_log "$T/ka.log" 'Entering MASTER STATE' 5 || fail "keepalived not MASTER" || return 1
    sleep 1
    is_state "$T/carpd.log" 7 BACKUP || fail "carpd (prio 100) not BACKUP" || return 1
    it_stop "$KA" TERM
    wait_state "$T/carpd.log" 7 MASTER 3 || fail "carpd did not take over" || return 1
    echo "carpd took over when keepalived stopped: $(grep -a -- '-> MASTER' "$T/carpd.log" | tail -1)"
    it_capture_stop
    check_adverts "$T/cap.pcap" "$src" --all-vhids
}

test_keepalived_vrrp3_v4() { ka_test "" 10.99.0.100/24 10.99.0.2; }
test_keepalived_vrrp3_v6() { ka_test v6 fd00:99::100/64 fe80::ff:fe00:2; }

# ---------------------------------------------------------------- our own nodes
# FreeBSD's tests/sys/netinet/carp.sh scenarios, with carpd for ifconfig.
one_master() { # LOG1 LOG2 VHID
    local a b
    a=$(state "$1" "$3"); b=$(state "$2" "$3")
    [[ "$a$b" == MASTERBACKUP || "$a$b" == BACKUPMASTER ]]
}

test_basic_v4() {
    it_lan 3
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" eth0 vhid 1 pass $PASS 10.99.0.200/24
    # Identical configurations: started within microseconds of each other, both backups
    # time out together, both become MASTER, both step down on the other's equal
    # advertisement and time out together again (FreeBSD's rules, pinned by the core's
    # property tests). Real hosts never start that close; stagger as they would.
    sleep 0.3
    carpd n2 "$T/c2.log" eth0 vhid 1 pass $PASS 10.99.0.200/24
    it_wait 8 one_master "$T/c1.log" "$T/c2.log" 1 || fail "not exactly one master" || return 1
    it_exec n3 ping -c 3 -i 0.2 -W 1 10.99.0.200 >/dev/null || fail "ping 10.99.0.200 failed" || return 1
    it_exec n3 ip neigh show 10.99.0.200 | grep -q '00:00:5e:00:01:01' || fail "VIP not at the virtual MAC" || return 1
    echo "one master; the VIP answers ping at 00:00:5e:00:01:01"
    sleep 1
    it_capture_stop
    local m=10.99.0.1
    is_state "$T/c2.log" 1 MASTER && m=10.99.0.2
    check_adverts "$T/cap.pcap" $m --pass $PASS --addr 10.99.0.200 --vhid 1
}

test_basic_v6() {
    it_lan 3 v6
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" eth0 vhid 1 pass $PASS fd00:99::200/64
    # Identical configurations: started within microseconds of each other, both backups
    # time out together, both become MASTER, both step down on the other's equal
    # advertisement and time out together again (FreeBSD's rules, pinned by the core's
    # property tests). Real hosts never start that close; stagger as they would.
    sleep 0.3
    carpd n2 "$T/c2.log" eth0 vhid 1 pass $PASS fd00:99::200/64
    it_wait 8 one_master "$T/c1.log" "$T/c2.log" 1 || fail "not exactly one master" || return 1
    it_exec n3 ping -6 -c 3 -i 0.2 -W 1 fd00:99::200 >/dev/null || fail "ping fd00:99::200 failed" || return 1
    it_exec n3 ip -6 neigh show fd00:99::200 | grep -q '00:00:5e:00:01:01' || fail "VIP not at the virtual MAC" || return 1
    echo "one master; the VIP answers ping6 at 00:00:5e:00:01:01"
    sleep 1
    it_capture_stop
    local m=fe80::ff:fe00:1
    is_state "$T/c2.log" 1 MASTER && m=fe80::ff:fe00:2
    check_adverts "$T/cap.pcap" $m --pass $PASS --addr fd00:99::200 --vhid 1
}

test_preempt() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" preempt eth0 vhid 1 advskew 100 pass $PASS 10.99.0.200/24
    wait_state "$T/c1.log" 1 MASTER 5 || fail "n1 not MASTER" || return 1
    carpd n2 "$T/c2.log" preempt eth0 vhid 1 advskew 0 pass $PASS 10.99.0.200/24
    wait_state "$T/c2.log" 1 MASTER 3 || fail "n2 (advskew 0, preempt) did not preempt" || return 1
    grep -q '(preempting a slower master)' "$T/c2.log" || fail "not by preemption" || return 1
    wait_state "$T/c1.log" 1 BACKUP 2 || fail "n1 did not yield" || return 1
    grep -q 'MASTER -> BACKUP (more frequent advertisement received)' "$T/c1.log" || fail "n1: wrong reason" || return 1
    echo "n2 preempted n1; n1: more frequent advertisement received"
    it_capture_stop
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.200 --vhid 1
}

# PR 259528: a negative demotion must not produce two masters.
test_negative_demotion() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" preempt control "$T/ctl1" eth0 vhid 1 advskew 0 pass foobar 10.99.0.254/24
    carpd n2 "$T/c2.log" preempt eth0 vhid 1 advskew 100 pass foobar 10.99.0.254/24
    it_wait 8 one_master "$T/c1.log" "$T/c2.log" 1 || fail "not exactly one master" || return 1
    it_wait 2 test -p "$T/ctl1"
    echo "demotion -1" >"$T/ctl1"
    it_wait_log "$T/c1.log" 'demoted by -1 to -1' 2 || fail "demotion not applied" || return 1
    sleep 3
    one_master "$T/c1.log" "$T/c2.log" 1 || fail "two masters (or none) after demotion -1" || return 1
    it_capture_stop
    local adv
    adv=$(tshark -r "$T/cap.pcap" -d ip.proto==112,carp -Y 'carp && ip.src==10.99.0.1' -T fields -e carp.advskew 2>/dev/null | sort -u | tr '\n' ' ')
    echo "exactly one master after demotion -1; n1 advertised advskew: $adv(clamped at 0)"
    [[ "$adv" == "0 " ]] || fail "advskew out of range: $adv" || return 1
    check_adverts "$T/cap.pcap" 10.99.0.1 --pass foobar --addr 10.99.0.254 --vhid 1
}

# ifconfig ... vhid 1 state backup|master (B.6). n1 is forced MASTER although slower
# (advskew 100); n2 (advskew 0, no preempt) stays BACKUP under it. "state backup" on n1:
# n2 takes over at its master-down. "state master" on n1: n1 takes over, then yields to
# the more frequent n2 (a master never answers back; the tie rule is FreeBSD's).
test_state_switch() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" control "$T/ctl1" eth0 vhid 1 advskew 100 state master pass $PASS 10.99.0.200/24
    carpd n2 "$T/c2.log" eth0 vhid 1 advskew 0 pass $PASS 10.99.0.200/24
    it_wait_log "$T/c1.log" 'BACKUP -> MASTER \(user requested via ifconfig\)' 3 || fail "n1: state master at start not applied" || return 1
    sleep 4
    is_state "$T/c2.log" 1 BACKUP || fail "n2 did not stay BACKUP under the forced master" || return 1
    echo "state master at start: n1 MASTER (user requested), n2 BACKUP"
    it_wait 2 test -p "$T/ctl1"
    echo "vhid 1 state backup" >"$T/ctl1"
    it_wait_log "$T/c1.log" 'MASTER -> BACKUP \(user requested via ifconfig\)' 2 || fail "n1 did not switch to BACKUP" || return 1
    wait_state "$T/c2.log" 1 MASTER 5 || fail "n2 did not take over" || return 1
    grep -q 'BACKUP -> MASTER (master timed out)' "$T/c2.log" || fail "n2: wrong reason" || return 1
    echo "state backup: n1 BACKUP (user requested), n2 took over (master timed out)"
    sleep 1
    echo "vhid 1 state master" >"$T/ctl1"
    it_wait 2 bash -c "grep -c 'BACKUP -> MASTER (user requested via ifconfig)' '$T/c1.log' | grep -q 2" ||
        fail "n1 did not switch to MASTER" || return 1
    it_wait_log "$T/c1.log" 'MASTER -> BACKUP \(more frequent advertisement received\)' 3 ||
        fail "n1 did not yield to the more frequent n2" || return 1
    is_state "$T/c2.log" 1 MASTER || fail "n2 lost MASTER" || return 1
    echo "state master: n1 MASTER (user requested), then BACKUP (more frequent advertisement received)"
    it_capture_stop
    check_adverts "$T/cap.pcap" 10.99.0.1 --pass $PASS --addr 10.99.0.200 --vhid 1 &&
        check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.200 --vhid 1
}

test_unicast_v4() {
    it_lan 2
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" eth0 vhid 1 advskew 0 peer 10.99.0.2 pass $PASS 10.99.0.200/24
    carpd n2 "$T/c2.log" eth0 vhid 1 advskew 100 peer 10.99.0.1 pass $PASS 10.99.0.200/24
    wait_state "$T/c1.log" 1 MASTER 6 || fail "n1 not MASTER" || return 1
    sleep 2
    is_state "$T/c2.log" 1 BACKUP || fail "n2 not BACKUP (unicast adverts not heard?)" || return 1
    it_capture_stop
    local dsts
    dsts=$(tshark -r "$T/cap.pcap" -d ip.proto==112,carp -Y 'carp && ip.src==10.99.0.1' -T fields -e ip.dst -e eth.src 2>/dev/null | sort -u | tr '\n\t' ' ,')
    echo "n1 MASTER, n2 BACKUP; n1's adverts: $dsts"
    [[ "$dsts" == "10.99.0.2,02:00:00:00:00:01 " ]] || fail "adverts not unicast from the physical MAC: $dsts" || return 1
    check_adverts "$T/cap.pcap" 10.99.0.1 --pass $PASS --addr 10.99.0.200 --vhid 1
}

test_unicast_v6() {
    it_lan 2 v6
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" eth0 vhid 1 advskew 0 peer6 fd00:99::2 pass $PASS fd00:99::200/64
    carpd n2 "$T/c2.log" eth0 vhid 1 advskew 100 peer6 fd00:99::1 pass $PASS fd00:99::200/64
    wait_state "$T/c1.log" 1 MASTER 6 || fail "n1 not MASTER" || return 1
    sleep 2
    is_state "$T/c2.log" 1 BACKUP || fail "n2 not BACKUP (unicast adverts not heard?)" || return 1
    it_capture_stop
    local dsts
    dsts=$(tshark -r "$T/cap.pcap" -d ip.proto==112,carp -Y 'carp && ipv6.dst==fd00:99::2' -T fields -e ipv6.src 2>/dev/null | sort -u | tr '\n' ' ')
    echo "n1 MASTER, n2 BACKUP; unicast adverts to fd00:99::2 from: $dsts"
    [[ -n "$dsts" ]] || fail "no unicast IPv6 adverts" || return 1
    check_adverts "$T/cap.pcap" "${dsts%% *}" --pass $PASS --addr fd00:99::200 --vhid 1
}

vrrp_own() { # FAMILY VIP SRC1
    it_lan 3 "$1"
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" eth0 vhid 1 carpver 3 vrrpprio 200 vrrpinterval 10 "$2"
    carpd n2 "$T/c2.log" eth0 vhid 1 carpver 3 vrrpprio 100 vrrpinterval 10 "$2"
    local p1=$IT_LASTPID
    wait_state "$T/c1.log" 1 MASTER 6 || fail "n1 (prio 200) not MASTER" || return 1
    sleep 1
    is_state "$T/c2.log" 1 BACKUP || fail "n2 (prio 100) not BACKUP" || return 1
    local vip=${2%/*} ping=(ping)
    [[ "$1" == v6 ]] && ping=(ping -6)
    it_exec n3 "${ping[@]}" -c 2 -i 0.2 -W 1 "$vip" >/dev/null || fail "ping $vip failed" || return 1
    echo "prio 200 MASTER, prio 100 BACKUP, $vip answers"
    it_capture_stop
    check_adverts "$T/cap.pcap" "$3" --all-vhids
    : "$p1"
}

test_vrrp_v4() { vrrp_own "" 10.99.0.200/24 10.99.0.1; }
test_vrrp_v6() { vrrp_own v6 fd00:99::200/64 fe80::ff:fe00:1; }

# Legacy ARP balancing: two vhids share 10.99.0.50; each node is master of one. Clients
# with different source addresses are answered by different masters (different virtual
# MACs); stop one node and every client moves to the survivor.
test_arpbalance() {
    it_lan 4
    it_capture_start "$T/cap.pcap"
    carpd n1 "$T/c1.log" arpbalance eth0 vhid 1 advskew 0 pass $PASS 10.99.0.50/24 vhid 2 advskew 100 pass $PASS 10.99.0.50/24
    local p1=$IT_LASTPID
    carpd n2 "$T/c2.log" arpbalance eth0 vhid 1 advskew 100 pass $PASS 10.99.0.50/24 vhid 2 advskew 0 pass $PASS 10.99.0.50/24
    wait_state "$T/c1.log" 1 MASTER 6 || fail "n1 not MASTER of vhid 1" || return 1
    wait_state "$T/c2.log" 2 MASTER 6 || fail "n2 not MASTER of vhid 2" || return 1
    sleep 1
    local m3 m4
    it_exec n3 ping -c 1 -W 1 10.99.0.50 >/dev/null || fail "n3: ping failed" || return 1
    it_exec n4 ping -c 1 -W 1 10.99.0.50 >/dev/null || fail "n4: ping failed" || return 1
    m3=$(it_exec n3 ip neigh show 10.99.0.50 | awk '{print $5}')
    m4=$(it_exec n4 ip neigh show 10.99.0.50 | awk '{print $5}')
    echo "client 10.99.0.3 -> $m3, client 10.99.0.4 -> $m4"
    [[ -n "$m3" && -n "$m4" && "$m3" != "$m4" ]] || fail "clients not balanced: $m3 / $m4" || return 1
    it_stop "$p1" KILL
    wait_state "$T/c2.log" 1 MASTER 6 || fail "n2 did not take over vhid 1" || return 1
    it_exec n3 ip neigh flush dev eth0
    it_exec n4 ip neigh flush dev eth0
    it_exec n3 ping -c 1 -W 1 10.99.0.50 >/dev/null || fail "n3: ping after failover failed" || return 1
    it_exec n4 ping -c 1 -W 1 10.99.0.50 >/dev/null || fail "n4: ping after failover failed" || return 1
    local r3 r4
    r3=$(it_exec n3 ip neigh show 10.99.0.50 | awk '{print $5}')
    r4=$(it_exec n4 ip neigh show 10.99.0.50 | awk '{print $5}')
    echo "after n1 stopped: 10.99.0.3 -> $r3, 10.99.0.4 -> $r4 (all answered by n2)"
    it_capture_stop
    # Every ARP reply for 10.99.0.50 after the failover came from n2's port... as seen on the wire:
    local who
    who=$(tshark -r "$T/cap.pcap" -Y 'arp.opcode==2 && arp.src.proto_ipv4==10.99.0.50' -T fields -e arp.src.hw_mac 2>/dev/null | sort | uniq -c | tr '\n' ';')
    echo "ARP replies for 10.99.0.50: $who"
    check_adverts "$T/cap.pcap" 10.99.0.2 --pass $PASS --addr 10.99.0.50 --all-vhids
}

ALL=(ucarp_preempt_and_handover ucarp_stops_we_take_over bad_adverts_rejected_by_both
    keepalived_vrrp3_v4 keepalived_vrrp3_v6
    basic_v4 basic_v6 preempt negative_demotion state_switch unicast_v4 unicast_v6
    vrrp_v4 vrrp_v6 arpbalance)

# The real carp.ko in the kernel harness, live on the LAN (make interop-test passes
# KHARNESS and KO; skipped without them).
if [[ -n "${KHARNESS:-}" && -x "${KHARNESS:-}" && -f "${KO:-}" ]]; then
    . "$HERE/ko.sh"
    ALL+=("${KO_TESTS[@]}")
fi

if [[ "${1:-}" == -l ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi
TESTS=("$@")
((${#TESTS[@]})) || TESTS=("${ALL[@]}")
echo "interop: ${#TESTS[@]} tests (carpd, carpsend, carpdump on carp-proto; ucarp $(ucarp --help 2>&1 | awk 'NR==2{print $2}'), $(keepalived --version 2>&1 | head -1 | awk '{print $1, $2}'))"
for t in "${TESTS[@]}"; do
    declare -F "test_$t" >/dev/null || it_die "no test $t (run.sh -l)"
    run_test "$t"
done
it_summary
