#!/bin/bash
# Failover latency benchmark (make bench-failover): carpd, ucarp and the real carp.ko (in
# the kernel harness, live on the LAN) in CARP mode (advbase 1, backup advskew 100), and
# carpd, keepalived and carp.ko in VRRPv3 mode (1 cs interval, backup priority 100), side
# by side in the same run, measured on the wire. (carp.ko rows need KHARNESS and KO, which
# make bench-failover passes.)
#
# Latency = time from the master's last advertisement seen on the LAN to the backup's first
# advertisement, both taken from one capture on the bridge (tcpdump, nanosecond stamps).
# A "failure" is made by disabling the master's bridge port (no carrier change, no
# farewell packet: the backup must notice by its master-down timer); enabling the port
# again lets the master win back (the backup hears the more frequent/higher-priority
# advertisements) and the next cycle starts.
#
# Every designated master is started first and is MASTER before its backup starts: two
# nodes started together may both time out, and a VRRP backup that wins that race keeps
# mastership for good (no preemption, FreeBSD's default).
#
# Usage: bench-failover.sh [CARP_CYCLES [VRRP_CYCLES]]   (defaults 12 and 30; as root)
# Output: a table (ms) with min/p50/max per implementation; raw samples in $OUT_DIR if set.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

CARP_CYCLES=${1:-12}
VRRP_CYCLES=${2:-30}
CARPD=${CARPD:-$ROOT/target/release/carpd}

if [[ ! -x "$CARPD" ]]; then
    (cd "$ROOT" && cargo build --release -q -p carpd) || it_die "cargo build carpd"
fi
it_install_deps

# Every implementation runs with the same real-time priority (SCHED_FIFO 50, memory
# locked): the machine is shared, and a kernel's callouts are not delayed by user tasks
# either. BENCH_RT= (empty) runs them all as ordinary tasks instead.
export IT_RT=${BENCH_RT-50}
RT=()
[[ -n "$IT_RT" ]] && RT=(rtprio "$IT_RT")

it_init
OUT=${OUT_DIR:-$IT_WORK}
mkdir -p "$OUT"

block() { bridge -n "$(it_ns br)" link set dev "$1" state "$2"; }

# carp.ko in the kernel harness: ko NODE LOG SCRIPT-LINES (em0 at 10.99.0.NODE#, eth0 a
# bare port), with the same real-time priority as the other peers.
KO_ON=0
[[ -n "${KHARNESS:-}" && -x "${KHARNESS:-}" && -f "${KO:-}" ]] && KO_ON=1
KO_PIDS=()
ko() {
    local node=$1 log=$2 lines=$3 idx=${1#n}
    it_exec "$node" ip addr flush dev eth0
    it_exec "$node" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6 2>/dev/null; true'
    {
        echo "nic em0 wire lan mac 02:00:00:00:10:0$idx"
        echo "wire-attach lan eth0"
        echo "kldload carp"
        echo "ifconfig em0 inet 10.99.0.$idx/24"
        echo "$lines"
        echo "await $OUT/ko-stop 3600"
    } >"$log.kh"
    local rt=()
    [[ -n "${IT_RT:-}" ]] && rt=(chrt -f "$IT_RT")
    it_bg "$node" "$log" "${rt[@]}" "$KHARNESS" --real-time -v --no-frames --ko "$KO" "$log.kh"
    KO_PIDS+=("$IT_LASTPID")
}
ko_stop() {
    local p i
    touch "$OUT/ko-stop"
    for p in "${KO_PIDS[@]}"; do
        for i in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    done
    KO_PIDS=()
    rm -f "$OUT/ko-stop"
}
now() { date +%s.%N; }

# wait_count LOG REGEX N SECONDS: bounded wait until LOG has at least N matching lines.
wait_count() {
    local log=$1 re=$2 n=$3 t=$4
    it_wait "$t" bash -c "(( \$(grep -cE -- '$re' '$log') >= $n ))"
}

# measure CAP FILTER MASTER BACKUP STAMPS: one latency per cycle, in ms. For each cycle
# (block time from STAMPS) take the last advert from MASTER captured before the block took
# effect and the first advert from BACKUP after it.
measure() {
    local cap=$1 filter=$2 master=$3 backup=$4 stamps=$5 decode=()
    # Protocol 112 dissects as VRRP by default; CARP needs to be asked for.
    [[ "$filter" == carp* ]] && decode=(-d ip.proto==112,carp)
    tshark -r "$cap" "${decode[@]}" -Y "$filter" -T fields -e frame.time_epoch \
        -e ip.src 2>/dev/null |
        awk -v M="$master" -v B="$backup" -v S="$stamps" '
        BEGIN { n = 0; while ((getline line < S) > 0) { split(line, f, " "); blk[++n] = f[2] } }
        { t[NR] = $1; s[NR] = $2 }
        END {
            for (c = 1; c <= n; c++) {
                last = 0; first = 0
                for (i = 1; i <= NR; i++) {
                    if (t[i] <= blk[c] && s[i] == M) last = t[i]
                    if (t[i] > blk[c] && s[i] == B) { first = t[i]; break }
                }
                if (last > 0 && first > 0) printf "%.3f\n", (first - last) * 1000
            }
        }'
}

stats() { # name mode nominal_ms file
    local name=$1 mode=$2 nom=$3 f=$4
    sort -n "$f" | awk -v N="$name" -v M="$mode" -v NOM="$nom" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { printf "%-11s %-24s %10s %4d %10s %10s %10s\n", N, M, NOM, 0, "-", "-", "-"; exit }
            p50 = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%-11s %-24s %10s %4d %10.3f %10.3f %10.3f  (p50 %+.3f, max %+.3f vs nominal)\n",
                N, M, NOM, NR, v[1], p50, v[NR], p50 - NOM, v[NR] - NOM
        }'
}

# ---------------------------------------------------------------- CARP: carpd vs ucarp
carp_bench() {
    it_lan 6
    it_capture_start "$OUT/carp.pcap"
    # The masters first, each MASTER before its backup starts.
    it_bg n1 "$OUT/carpd-m.log" "$CARPD" -q "${RT[@]}" eth0 vhid 1 advbase 1 advskew 0 pass benchpw 10.99.0.101/24
    it_ucarp n3 "$OUT/ucarp-m.log" 2 benchpw 10.99.0.102 1 0 --preempt
    ((KO_ON)) && ko n5 "$OUT/ko-m.log" "ifconfig em0 vhid 3 advbase 1 advskew 0 pass benchpw alias 10.99.0.103/32"
    it_wait_log "$OUT/carpd-m.log" '-> MASTER' 10 || it_die "carpd master did not come up"
    it_wait_log "$OUT/ucarp-m.log" 'state: MASTER' 10 || it_die "ucarp master did not come up"
    if ((KO_ON)); then it_wait_log "$OUT/ko-m.log" '3@em0: .* -> MASTER' 10 || it_die "carp.ko master did not come up"; fi
    it_bg n2 "$OUT/carpd-b.log" "$CARPD" -q "${RT[@]}" eth0 vhid 1 advbase 1 advskew 100 pass benchpw 10.99.0.101/24
    it_ucarp n4 "$OUT/ucarp-b.log" 2 benchpw 10.99.0.102 1 100
    ((KO_ON)) && ko n6 "$OUT/ko-b.log" "ifconfig em0 vhid 3 advbase 1 advskew 100 pass benchpw alias 10.99.0.103/32"
    it_wait_log "$OUT/carpd-b.log" '-> BACKUP' 10 || it_die "carpd backup did not come up"
    if ((KO_ON)); then it_wait_log "$OUT/ko-b.log" '3@em0: .* -> BACKUP' 10 || it_die "carp.ko backup did not come up"; fi
    sleep 6 # let ucarp's backup settle in BACKUP
    : >"$OUT/carp.stamps"
    local c cm um km
    for c in $(seq 1 "$CARP_CYCLES"); do
        cm=$(it_count_log "$OUT/carpd-b.log" '-> MASTER')
        um=$(it_count_log "$OUT/ucarp-b.log" 'state: MASTER')
        km=$(it_count_log "$OUT/ko-b.log" '3@em0: .* -> MASTER')
        block p1 0; block p3 0; ((KO_ON)) && block p5 0
        echo "$c $(now)" >>"$OUT/carp.stamps"
        wait_count "$OUT/carpd-b.log" '-> MASTER' $((cm + 1)) 8 || it_log "cycle $c: carpd backup did not take over"
        wait_count "$OUT/ucarp-b.log" 'state: MASTER' $((um + 1)) 8 || it_log "cycle $c: ucarp backup did not take over"
        if ((KO_ON)); then wait_count "$OUT/ko-b.log" '3@em0: .* -> MASTER' $((km + 1)) 8 || it_log "cycle $c: carp.ko backup did not take over"; fi
        block p1 3; block p3 3; ((KO_ON)) && block p5 3
        wait_count "$OUT/carpd-b.log" '-> BACKUP' $((cm + 2)) 5 || it_log "cycle $c: carpd backup did not step down"
        wait_count "$OUT/ucarp-b.log" 'state: BACKUP' $((um + 2)) 5 || it_log "cycle $c: ucarp backup did not step down"
        if ((KO_ON)); then wait_count "$OUT/ko-b.log" '3@em0: MASTER -> BACKUP' "$c" 5 || it_log "cycle $c: carp.ko backup did not step down"; fi
        sleep 1.5
        printf 'carp cycle %d/%d\r' "$c" "$CARP_CYCLES" >&2
    done
    it_capture_stop
    ((KO_ON)) && ko_stop
    measure "$OUT/carp.pcap" 'carp.vhid == 1' 10.99.0.1 10.99.0.2 "$OUT/carp.stamps" >"$OUT/carpd-carp.ms"
    measure "$OUT/carp.pcap" 'carp.vhid == 2' 10.99.0.3 10.99.0.4 "$OUT/carp.stamps" >"$OUT/ucarp-carp.ms"
    measure "$OUT/carp.pcap" 'carp.vhid == 3' 10.99.0.5 10.99.0.6 "$OUT/carp.stamps" >"$OUT/ko-carp.ms"
    it_teardown
}

# ------------------------------------------------------ VRRPv3: carpd vs keepalived
vrrp_bench() {
    IT_PREFIX="${IT_PREFIX}v"
    it_lan 6
    it_capture_start "$OUT/vrrp.pcap"
    # The masters first, each MASTER before its backup starts.
    it_bg n1 "$OUT/vcarpd-m.log" "$CARPD" -q "${RT[@]}" eth0 vhid 11 carpver 3 vrrpprio 200 vrrpinterval 1 10.99.0.111/24
    it_keepalived n3 "$OUT/ka-m.log" kam 12 200 0.01 10.99.0.112/24
    ((KO_ON)) && ko n5 "$OUT/vko-m.log" "ifconfig em0 vhid 13 carpver 3 vrrpprio 200 vrrpinterval 1 alias 10.99.0.113/32"
    it_wait_log "$OUT/vcarpd-m.log" '-> MASTER' 10 || it_die "carpd VRRP master did not come up"
    it_wait_log "$OUT/ka-m.log" 'Entering MASTER' 10 || it_die "keepalived master did not come up"
    if ((KO_ON)); then it_wait_log "$OUT/vko-m.log" '13@em0: .* -> MASTER' 10 || it_die "carp.ko VRRP master did not come up"; fi
    it_bg n2 "$OUT/vcarpd-b.log" "$CARPD" -q "${RT[@]}" eth0 vhid 11 carpver 3 vrrpprio 100 vrrpinterval 1 10.99.0.111/24
    it_keepalived n4 "$OUT/ka-b.log" kab 12 100 0.01 10.99.0.112/24
    ((KO_ON)) && ko n6 "$OUT/vko-b.log" "ifconfig em0 vhid 13 carpver 3 vrrpprio 100 vrrpinterval 1 alias 10.99.0.113/32"
    it_wait_log "$OUT/vcarpd-b.log" '-> BACKUP' 10 || it_die "carpd VRRP backup did not come up"
    it_wait_log "$OUT/ka-b.log" 'Entering BACKUP' 10 || it_die "keepalived backup did not come up"
    if ((KO_ON)); then it_wait_log "$OUT/vko-b.log" '13@em0: .* -> BACKUP' 10 || it_die "carp.ko VRRP backup did not come up"; fi
    sleep 1
    : >"$OUT/vrrp.stamps"
    local c cm km om
    for c in $(seq 1 "$VRRP_CYCLES"); do
        cm=$(it_count_log "$OUT/vcarpd-b.log" '-> MASTER')
        km=$(it_count_log "$OUT/ka-b.log" 'Entering MASTER')
        om=$(it_count_log "$OUT/vko-b.log" '13@em0: .* -> MASTER')
        block p1 0; block p3 0; ((KO_ON)) && block p5 0
        echo "$c $(now)" >>"$OUT/vrrp.stamps"
        wait_count "$OUT/vcarpd-b.log" '-> MASTER' $((cm + 1)) 3 || it_log "cycle $c: carpd backup did not take over"
        wait_count "$OUT/ka-b.log" 'Entering MASTER' $((km + 1)) 3 || it_log "cycle $c: keepalived backup did not take over"
        if ((KO_ON)); then wait_count "$OUT/vko-b.log" '13@em0: .* -> MASTER' $((om + 1)) 3 || it_log "cycle $c: carp.ko backup did not take over"; fi
        block p1 3; block p3 3; ((KO_ON)) && block p5 3
        wait_count "$OUT/vcarpd-b.log" '-> BACKUP' $((cm + 2)) 3 || it_log "cycle $c: carpd backup did not step down"
        wait_count "$OUT/ka-b.log" 'Entering BACKUP' $((km + 2)) 3 || it_log "cycle $c: keepalived backup did not step down"
        if ((KO_ON)); then wait_count "$OUT/vko-b.log" '13@em0: MASTER -> BACKUP' "$c" 3 || it_log "cycle $c: carp.ko backup did not step down"; fi
        sleep 0.3
        printf 'vrrp cycle %d/%d\r' "$c" "$VRRP_CYCLES" >&2
    done
    it_capture_stop
    ((KO_ON)) && ko_stop
    measure "$OUT/vrrp.pcap" 'vrrp.virt_rtr_id == 11' 10.99.0.1 10.99.0.2 "$OUT/vrrp.stamps" >"$OUT/carpd-vrrp.ms"
    measure "$OUT/vrrp.pcap" 'vrrp.virt_rtr_id == 12' 10.99.0.3 10.99.0.4 "$OUT/vrrp.stamps" >"$OUT/ka-vrrp.ms"
    measure "$OUT/vrrp.pcap" 'vrrp.virt_rtr_id == 13' 10.99.0.5 10.99.0.6 "$OUT/vrrp.stamps" >"$OUT/ko-vrrp.ms"
    it_teardown
}

echo "failover benchmark: $CARP_CYCLES CARP cycles, $VRRP_CYCLES VRRPv3 cycles (kernel $(uname -r), $(nproc) CPUs, SCHED_FIFO ${IT_RT:-off} for every peer)" >&2
carp_bench
vrrp_bench
echo >&2
printf '%-11s %-24s %10s %4s %10s %10s %10s\n' implementation mode "nominal ms" n "min ms" "p50 ms" "max ms"
stats carpd "CARP advbase 1 skew 100" 3390.625 "$OUT/carpd-carp.ms"
stats ucarp "CARP advbase 1 skew 100" 3390.625 "$OUT/ucarp-carp.ms"
if ((KO_ON)); then stats carp.ko "CARP advbase 1 skew 100" 3390.625 "$OUT/ko-carp.ms"; fi
stats carpd "VRRPv3 1 cs prio 100" 36.094 "$OUT/carpd-vrrp.ms"
stats keepalived "VRRPv3 1 cs prio 100" 36.094 "$OUT/ka-vrrp.ms"
if ((KO_ON)); then stats carp.ko "VRRPv3 1 cs prio 100" 36.094 "$OUT/ko-vrrp.ms"; fi
