#!/usr/bin/env bash
# `weft bench` patterns beyond pubsub and rtt, as real processes with tiny counts: each case checks that the
# pattern produced its JSON rows with the documented fields and a figure in them. Nothing here judges speed:
# a benchmark is never a timed test.
#
#   bench_patterns_test.sh WEFT WEFTD CASE
#
# Cases: usage_errors, reliable, queue_reqrep, persist. Every run is bounded by the bench itself (--duration,
# its setup and quiet deadlines, and killing its peers by pid); CTest adds a timeout on top.
set -euo pipefail

WEFT=${1:?usage: bench_patterns_test.sh WEFT WEFTD CASE}
WEFTD=${2:?usage: bench_patterns_test.sh WEFT WEFTD CASE}
CASE=${3:?usage: bench_patterns_test.sh WEFT WEFTD CASE}
readonly WEFT WEFTD CASE

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work weft-bench-test
FAIL_BYTES=3000

# bench NAME ARGS...: `weft bench ARGS`, stdout to NAME.out, stderr to NAME.err; sets STATUS.
bench() {
  local name=$1
  shift
  run "$name" "$WEFT" bench "$@"
}

# expect_rows FILE PATTERN SYSTEM MIN_ROWS FIELD...: at least MIN_ROWS JSON lines of that pattern and system,
# each with every FIELD present and, for the numeric figures, a value above 0.
expect_rows() {
  python3 - "$@" <<'PY' || fail "rows of $2/$3 in ${1##*/}"
import json, sys
path, pattern, system, minimum, *fields = sys.argv[1:]
rows = [json.loads(line) for line in open(path) if line.strip()]
# "reliable" rows without the bounded-memory run; "reliable/slow" that run alone (it has no raw baseline).
slow = pattern.endswith("/slow")
pattern = pattern.removesuffix("/slow")
mine = [r for r in rows if r.get("pattern") == pattern and r.get("system") == system and
        r.get("slow_subscriber", False) == slow]
if len(mine) < int(minimum):
    sys.exit(f"{len(mine)} {system} {pattern} row(s), expected at least {minimum}: {rows}")
for r in mine:
    for f in fields:
        if f not in r:
            sys.exit(f"no field {f} in {r}")
        v = r[f]
        # Figures must be there and positive; a ratio must be a number (a tiny one rounds to 0).
        if f in ("msgs_per_s", "p50_us", "p99_us", "peak_rss_kib") and not (isinstance(v, (int, float)) and v > 0):
            sys.exit(f"{f} is {v!r} in {r}")
        if f.startswith("ratio_to_") and system == "weft" and not (isinstance(v, (int, float)) and v >= 0):
            sys.exit(f"{f} is {v!r} in {r}")
    if r.get("failures", 0) != 0 or r.get("lost", 0) != 0 or r.get("drops", 0) != 0:
        sys.exit(f"a failed or lossy row: {r}")
PY
}

# Small counts for every case: a smoke test of the pattern, not a measurement.
readonly SMALL=(--count 2000 --round-trips 200 --warmup 20 --repeats 1 --duration 5 --json)

test_usage_errors() {
  local args
  for args in "--patterns bogus" "--patterns replay" "--workers 0" "--workers x" "--fsync never" \
    "--append-batch 0" "--append-window 5000" "--slow-outbox -1" "--data-dir $WORK/missing" \
    "--patterns persist --weftd $WORK/no-weftd"; do
    # shellcheck disable=SC2086  # the arguments are split on purpose
    bench usage $args
    [[ $STATUS -eq 2 ]] || fail "weft bench $args exited $STATUS, expected 2"
    grep -q 'weft bench:' "$WORK/usage.err" || fail "weft bench $args printed no error"
  done
  bench help --help
  [[ $STATUS -eq 0 ]] || fail "--help exited $STATUS"
  local pattern
  for pattern in reliable queue reqrep persist replay; do
    grep -q "$pattern" "$WORK/help.out" || fail "--help does not explain $pattern"
  done
}

test_reliable() {
  bench reliable --patterns reliable --sizes 128 --slow-outbox 2000 "${SMALL[@]}"
  [[ $STATUS -eq 0 ]] || fail "weft bench --patterns reliable exited $STATUS"
  expect_rows "$WORK/reliable.out" reliable weft 1 system transport size msgs_per_s mb_per_s p50_us p99_us \
    peak_rss_kib outbox_max_messages slow_subscriber pinned ratio_to_raw
  expect_rows "$WORK/reliable.out" reliable/slow weft 1 size peak_rss_kib rss_start_kib outbox_max_messages pinned
  expect_rows "$WORK/reliable.out" reliable zmq 1 msgs_per_s mb_per_s ratio_to_raw pinned
}

test_queue_reqrep() {
  bench queue --patterns queue,reqrep --sizes 128 --workers 1,2 "${SMALL[@]}"
  [[ $STATUS -eq 0 ]] || fail "weft bench --patterns queue,reqrep exited $STATUS"
  expect_rows "$WORK/queue.out" queue weft 2 workers msgs_per_s mb_per_s ratio_to_raw peak_rss_kib pinned
  expect_rows "$WORK/queue.out" queue zmq 2 workers msgs_per_s mb_per_s pinned
  expect_rows "$WORK/queue.out" reqrep weft 1 p50_us p99_us ratio_to_raw pinned
  expect_rows "$WORK/queue.out" reqrep zmq 1 p50_us p99_us pinned
}

test_persist() {
  bench persist --patterns persist --systems weft --sizes 128 --fsync always,os --weftd "$WEFTD" --data-dir "$WORK" \
    "${SMALL[@]}"
  [[ $STATUS -eq 0 ]] || fail "weft bench --patterns persist exited $STATUS"
  expect_rows "$WORK/persist.out" persist weft 2 fsync msgs_per_s mb_per_s p50_us p99_us batch window pinned
  expect_rows "$WORK/persist.out" replay weft 2 fsync msgs_per_s mb_per_s ratio_to_persist pinned
  # weftd's temporary directories are gone, and so is weftd.
  [[ -z $(find "$WORK" -maxdepth 1 -name 'weft-bench-weftd.*') ]] || fail "weftd's data directory was left behind"
}

ALL_CASES=(usage_errors reliable queue_reqrep persist)
run_cases "$CASE"
