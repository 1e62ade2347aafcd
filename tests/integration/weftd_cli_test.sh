#!/usr/bin/env bash
# weftd and the weft verbs that talk to it (`weft stream`, `weft sub --stream`, `weft dlq`, `weft log`) as real
# processes over a real ipc socket.
#
#   weftd_cli_test.sh WEFT WEFTD WEFTD_STORM [CASE...]
#
# Runs the named cases (all of them without names); CTest registers each case as its own test. Each case gets a
# fresh data directory and an ipc endpoint under it; every wait is a deadline loop on a condition (the "ready"
# line, `weft stream ls` answering, a process exit, a count); cleanup kills only the processes this script
# started, by PID.
set -euo pipefail

WEFT=${1:?usage: weftd_cli_test.sh WEFT WEFTD WEFTD_STORM [CASE...]}
WEFTD=${2:?usage: weftd_cli_test.sh WEFT WEFTD WEFTD_STORM [CASE...]}
STORM=${3:?usage: weftd_cli_test.sh WEFT WEFTD WEFTD_STORM [CASE...]}
shift 3
readonly WEFT WEFTD STORM
# Generous for a loaded CI machine; a passing case takes a second or two.
readonly DEADLINE_S=15

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAIL_BYTES=3000
PASS_LABEL=ok
make_work weftd-cli-test
readonly WORK
readonly DATA="$WORK/data"
readonly EP="ipc://$WORK/weftd.sock"
# Clients find this weftd without --sidecar too.
export WEFT_SIDECAR="$EP"
WEFTD_PID=

is_ready() { grep -qs '^weftd: ready' "$WORK/weftd.err"; }
answers() { "$WEFT" stream ls --sidecar "$EP" >/dev/null 2>&1; }

# start_weftd ARGS...: weftd in the background (stderr appended to weftd.err); waits until it answers.
start_weftd() {
  : >"$WORK/weftd.err"
  "$WEFTD" --data-dir "$DATA" --endpoint "$EP" "$@" >>"$WORK/weftd.out" 2>>"$WORK/weftd.err" &
  WEFTD_PID=$!
  PIDS+=("$WEFTD_PID")
  wait_until is_ready || fail "weftd printed no ready line"
  wait_until answers || fail "weftd does not answer 'weft stream ls'"
}

# stop_weftd: SIGTERM, wait for the exit (deadline), expect 0.
stop_weftd() {
  kill -TERM "$WEFTD_PID"
  wait_until is_gone "$WEFTD_PID" || fail "weftd did not exit within ${DEADLINE_S} s of SIGTERM"
  local status=0
  wait "$WEFTD_PID" || status=$?
  untrack "$WEFTD_PID"
  [[ $status -eq 0 ]] || fail "weftd exited $status after SIGTERM, expected 0"
}

expect_ok() {  # expect_ok NAME CMD...
  run "$@"
  [[ $STATUS -eq 0 ]] || fail "$1 exited $STATUS, expected 0"
}
lines_of() { wc -l <"$WORK/$1.out" | tr -d ' '; }

add_orders() {
  expect_ok add "$WEFT" stream add orders --subject 'orders.>' --fsync always "$@"
}

# info_field NAME FIELD: a line of `weft stream info NAME`, its value.
info_field() {
  "$WEFT" stream info "$1" | sed -n "s/^$2: *//p"
}

case_setup() { rm -rf "$DATA"; }

# consume_until_dead_letter NAME WHAT [ARGS...]: the durable consumer NAME of stream orders (max_deliver 2, more
# ARGS) in the background, stdout/stderr in NAME.out/.err, until orders holds one dead letter (WHAT, for the
# failure message); then stops it.
consume_until_dead_letter() {
  local name=$1 what=$2
  shift 2
  "$WEFT" sub --stream orders --durable "$name" --max-deliver 2 --raw --timeout "$DEADLINE_S" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local consumer=$!
  PIDS+=("$consumer")
  has_letter() { "$WEFT" dlq ls --sidecar "$EP" 2>/dev/null | grep -Eq '^orders +1( |$)'; }
  wait_until has_letter || fail "$what never reached the dead letters"
  kill -TERM "$consumer" 2>/dev/null || true
  wait_until is_gone "$consumer" || fail "the consumer $name did not stop"
}

# --- cases -------------------------------------------------------------------------------------------------

test_help() {
  expect_ok weftd_help "$WEFTD" --help
  grep -q -- '--data-dir' "$WORK/weftd_help.out" || fail "weftd --help does not mention --data-dir"
  grep -q 'SIGTERM' "$WORK/weftd_help.out" || fail "weftd --help does not explain signals"
  run nodir "$WEFTD"
  [[ $STATUS -eq 2 ]] || fail "weftd without --data-dir exited $STATUS, expected 2"
  grep -q 'data-dir' "$WORK/nodir.err" || fail "weftd without --data-dir does not say what is missing"
  run badflag "$WEFTD" --data-dir "$DATA" --no-such-flag
  [[ $STATUS -eq 2 ]] || fail "weftd with an unknown flag exited $STATUS, expected 2"
  local verb
  for verb in stream dlq log; do
    expect_ok "help_$verb" "$WEFT" "$verb" --help
    [[ -s $WORK/help_$verb.out || -s $WORK/help_$verb.err ]] || fail "weft $verb --help printed nothing"
  done
  # Nothing listens: a clear error, quickly, not a hang.
  run nosidecar "$WEFT" stream ls --sidecar "ipc://$WORK/nobody.sock" --timeout 1
  [[ $STATUS -ne 0 ]] || fail "weft stream ls without a weftd succeeded"
  [[ -s $WORK/nosidecar.err ]] || fail "weft stream ls without a weftd printed no error"
}

test_stream_admin() {
  start_weftd
  expect_ok ls0 "$WEFT" stream ls
  grep -q 'no streams' "$WORK/ls0.out" || fail "an empty weftd lists streams"
  add_orders --retention-age 2d
  expect_ok add2 "$WEFT" stream add audit --subject 'audit.*' --fsync interval --fsync-interval 10ms
  run overlap "$WEFT" stream add bad --subject 'orders.eu'
  [[ $STATUS -ne 0 ]] || fail "a stream overlapping another was added"
  grep -q 'overlap' "$WORK/overlap.err" || fail "the overlap error does not say so"
  run badname "$WEFT" stream add '../x' --subject 'x.>'
  [[ $STATUS -ne 0 ]] || fail "a stream named ../x was added"
  expect_ok ls "$WEFT" stream ls
  grep -q '^orders ' "$WORK/ls.out" || fail "stream ls does not show orders"
  grep -q '^audit ' "$WORK/ls.out" || fail "stream ls does not show audit"
  expect_ok info "$WEFT" stream info orders
  grep -q '^retention: *.*2d' "$WORK/info.out" || fail "stream info does not show the retention"
  grep -q '^messages: *0$' "$WORK/info.out" || fail "a new stream is not empty"
  expect_ok json "$WEFT" stream info orders --json
  grep -q '"name"' "$WORK/json.out" || fail "stream info --json has no name"
  expect_ok status "$WEFT" stream status
  grep -q 'streams: *2' "$WORK/status.out" || fail "stream status does not count 2 streams"
  # Added streams survive a restart; removed ones go with their files.
  stop_weftd
  start_weftd
  expect_ok ls2 "$WEFT" stream ls
  grep -q '^audit ' "$WORK/ls2.out" || fail "an added stream was forgotten across a restart"
  expect_ok rm "$WEFT" stream rm audit
  [[ ! -e $DATA/streams/audit ]] || [[ -z $(ls -A "$DATA/streams/audit") ]] || fail "audit's files are still there"
  run info_gone "$WEFT" stream info audit
  [[ $STATUS -ne 0 ]] || fail "a removed stream still has info"
  stop_weftd
}

test_publish_replay() {
  start_weftd
  add_orders
  expect_ok pub "$WEFT" stream pub orders.new 'hello' --count 10
  expect_ok pub2 "$WEFT" stream pub orders.eu.1 'last one'
  run nostream "$WEFT" stream pub nobody.here 'x'
  [[ $STATUS -ne 0 ]] || fail "publishing to a subject no stream takes succeeded"
  grep -qi 'no stream' "$WORK/nostream.err" || fail "the error does not say no stream takes the subject"
  [[ $(info_field orders messages) == 11 ]] || fail "stream info counts $(info_field orders messages) messages, not 11"
  expect_ok first "$WEFT" sub --stream orders --from first --until-end --raw --timeout "$DEADLINE_S"
  [[ $(lines_of first) -eq 11 ]] || fail "--from first replayed $(lines_of first) messages, not 11"
  [[ $(tail -n 1 "$WORK/first.out") == 'last one' ]] || fail "the replay is out of order"
  expect_ok offset "$WEFT" sub --stream orders --from offset:6 --until-end --raw --timeout "$DEADLINE_S"
  [[ $(lines_of offset) -eq 5 ]] || fail "--from offset:6 replayed $(lines_of offset) messages, not 5"
  expect_ok last "$WEFT" sub --stream orders --from last --count 1 --raw --timeout "$DEADLINE_S"
  [[ $(cat "$WORK/last.out") == 'last one' ]] || fail "--from last did not start at the newest message"
  expect_ok time "$WEFT" sub --stream orders --from time:-1h --until-end --raw --timeout "$DEADLINE_S"
  [[ $(lines_of time) -eq 11 ]] || fail "--from time:-1h replayed $(lines_of time) messages, not 11"
  expect_ok json "$WEFT" sub --stream orders --from offset:10 --count 1 --json --timeout "$DEADLINE_S"
  grep -q '"offset": *10' "$WORK/json.out" || fail "--json does not carry the offset"
  # A live consumer gets what is appended after it started.
  "$WEFT" sub --stream orders --from new --count 2 --raw --timeout "$DEADLINE_S" >"$WORK/live.out" 2>"$WORK/live.err" &
  local live=$!
  PIDS+=("$live")
  reading() { grep -qs '^reading stream' "$WORK/live.err"; }
  wait_until reading || fail "the live consumer did not start"
  expect_ok pub3 "$WEFT" stream pub orders.new 'fresh' --count 2
  wait_until is_gone "$live" || fail "the live consumer did not get 2 new messages"
  wait "$live" || fail "the live consumer exited $?"
  [[ $(cat "$WORK/live.out") == $'fresh\nfresh' ]] || fail "the live consumer got the wrong messages"
  stop_weftd
}

# Regression: with a credit of 4,096 or more a consumer stalled at 65,536 deliveries (a DELIVER over the header
# limit, dropped by the client), and an --until-end that stopped short could exit 0.
test_large_credit() {
  start_weftd
  expect_ok add "$WEFT" stream add big --subject 'big.>' --fsync os
  expect_ok pub "$WEFT" stream pub big.x --size 8 --count 70000 --window 256
  [[ $(info_field big messages | tr -d ,) == 70000 ]] || fail "stream info counts $(info_field big messages) messages"
  expect_ok ack "$WEFT" sub --stream big --from first --credit 4096 --until-end --raw --timeout "$DEADLINE_S"
  [[ $(lines_of ack) -eq 70000 ]] || fail "--credit 4096 replayed $(lines_of ack) of 70000 messages"
  # Over ipc, a consumer that acknowledges reads the records from the segment files itself (DELIVER_FILE).
  expect_ok status "$WEFT" stream status
  grep -Eq '^ *deliveries_read_by_clients +70,000$' "$WORK/status.out" ||
    fail "the replay did not read the segment files itself: $(grep -E 'deliveries|read' "$WORK/status.out")"
  expect_ok noack "$WEFT" sub --stream big --from first --credit 8192 --no-ack --until-end --raw \
    --timeout "$DEADLINE_S"
  [[ $(lines_of noack) -eq 70000 ]] || fail "--credit 8192 --no-ack replayed $(lines_of noack) of 70000 messages"
  # Interrupted before the end: no success, and it says how far it got.
  spawn short "$WEFT" sub --stream big --from first --credit 1 --until-end --raw
  local short=$PID
  started() { [[ -s $WORK/short.out ]]; }
  wait_until started || fail "the slow consumer printed nothing"
  kill -INT "$short"
  finish "$short" short
  [[ $STATUS -eq 1 ]] || fail "an interrupted --until-end exited $STATUS, expected 1"
  grep -q 'stopped short: received [0-9,]* of the 70,000 messages' "$WORK/short.err" ||
    fail "an interrupted --until-end does not say how many it got"
  stop_weftd
}

test_durable_resume() {
  start_weftd
  add_orders
  expect_ok pub "$WEFT" stream pub orders.new 'm' --count 10
  expect_ok d1 "$WEFT" sub --stream orders --durable billing --count 4 --raw --timeout "$DEADLINE_S"
  [[ $(lines_of d1) -eq 4 ]] || fail "the durable consumer took $(lines_of d1) messages, not 4"
  expect_ok info "$WEFT" stream info orders
  grep -q 'billing' "$WORK/info.out" || fail "stream info does not list the durable consumer"
  # Across a weftd restart, it resumes after what it acknowledged.
  stop_weftd
  start_weftd
  expect_ok d2 "$WEFT" sub --stream orders --durable billing --until-end --json --timeout "$DEADLINE_S"
  [[ $(lines_of d2) -eq 6 ]] || fail "the resumed durable consumer took $(lines_of d2) messages, not 6"
  grep -q '"offset": *4[,}]' "$WORK/d2.out" || fail "the durable consumer did not resume at offset 4"
  expect_ok d3 "$WEFT" sub --stream orders --durable billing --until-end --raw --timeout "$DEADLINE_S"
  [[ $(lines_of d3) -eq 0 ]] || fail "a caught-up durable consumer got $(lines_of d3) messages again"
  stop_weftd
}

test_dead_letters() {
  start_weftd
  add_orders
  expect_ok pub "$WEFT" stream pub orders.new 'fine'
  expect_ok pub2 "$WEFT" stream pub orders.bad 'poison pill'
  # A consumer that naks the poison: after 2 deliveries it goes to the dead letters.
  consume_until_dead_letter worker "the poison message" --reject poison
  expect_ok show "$WEFT" dlq show --sidecar "$EP" --stream orders
  grep -q 'poison pill' "$WORK/show.out" || fail "dlq show does not show the message"
  grep -q 'orders.bad' "$WORK/show.out" || fail "dlq show does not show the subject"
  grep -Eq '(^|[ ,])2 deliveries' "$WORK/show.out" || fail "dlq show does not show 2 deliveries"
  expect_ok replay "$WEFT" dlq replay --sidecar "$EP" --stream orders
  [[ $(info_field orders messages) == 3 ]] || fail "the replayed message is not back in the stream"
  expect_ok back "$WEFT" sub --stream orders --from offset:2 --count 1 --raw --timeout "$DEADLINE_S"
  [[ $(cat "$WORK/back.out") == 'poison pill' ]] || fail "the replayed message is not the poison"
  expect_ok purge "$WEFT" dlq purge --sidecar "$EP" --stream orders
  "$WEFT" dlq ls --sidecar "$EP" | grep -Eq '^orders +0( |$)' || fail "dlq purge left letters"
  stop_weftd
}

# A record that does not decode (another writer's: weftd checks every envelope it appends) is named on stderr,
# counted in the summary, and never acknowledged: after max_deliver it is in the dead letters, not skipped.
test_undecodable() {
  start_weftd
  add_orders
  expect_ok pub "$WEFT" stream pub orders.new 'before' --count 2
  stop_weftd
  "$STORM" plant "$DATA/streams/orders" 'not an envelope' || fail "weftd_storm could not plant a record"
  start_weftd
  expect_ok pub2 "$WEFT" stream pub orders.new 'after'
  expect_ok peek "$WEFT" sub --stream orders --from first --no-ack --until-end --raw --timeout "$DEADLINE_S"
  [[ $(cat "$WORK/peek.out") == $'before\nbefore\nafter' ]] || fail "the readable messages around it were not all printed"
  grep -q 'offset 2 does not decode as a Weft envelope' "$WORK/peek.err" || fail "the undecodable record was not named"
  grep -q ', 1 undecodable' "$WORK/peek.err" || fail "the summary does not count the undecodable record"
  consume_until_dead_letter reader "the undecodable record"
  grep -q 'not acknowledged' "$WORK/reader.err" || fail "the acknowledging consumer does not say it refused the record"
  expect_ok show "$WEFT" dlq show --sidecar "$EP" --stream orders
  grep -q 'does not decode' "$WORK/show.out" || fail "dlq show does not say why"
  stop_weftd
}

test_sigterm() {
  start_weftd
  add_orders
  expect_ok pub "$WEFT" stream pub orders.new 'kept' --count 25
  stop_weftd
  [[ -e $WORK/weftd.sock ]] && fail "weftd left its ipc socket $WORK/weftd.sock behind after SIGTERM"
  grep -q 'stopping' "$WORK/weftd.err" || fail "weftd did not say it was stopping"
  grep -q 'stopped: 25 messages appended' "$WORK/weftd.err" || fail "weftd did not report what it appended"
  expect_ok verify "$WEFT" log verify "$DATA/streams/orders"
  grep -q 'torn' "$WORK/verify.out" && fail "a clean stop left a torn tail"
  start_weftd
  [[ $(info_field orders messages) == 25 ]] || fail "the messages did not survive a clean stop"
  grep -q '^recovery: *clean' <("$WEFT" stream info orders) || fail "recovery after a clean stop was not clean"
  # A second weftd on the same data directory refuses to start.
  run second "$WEFTD" --data-dir "$DATA" --endpoint "ipc://$WORK/other.sock"
  [[ $STATUS -ne 0 ]] || fail "a second weftd ran on the same data directory"
  grep -q "$DATA" "$WORK/second.err" || fail "the second weftd does not name the data directory"
  stop_weftd
}

# The README's story with real processes: weftd with a stream, a node (examples/persistent_publisher) publishes
# persistently, weftd is killed (SIGKILL) and started again, the node publishes more, and `weft sub --stream`
# replays every acknowledged message exactly once. The example comes in $WEFT_PERSISTENT_PUBLISHER (CTest sets
# it); without it the case is skipped (77).
test_readme_story() {
  local publisher=${WEFT_PERSISTENT_PUBLISHER:-}
  if [[ ! -x $publisher ]]; then
    echo "skip: readme_story needs WEFT_PERSISTENT_PUBLISHER (the persistent_publisher example)"
    exit 77
  fi
  local before=300 after=200
  local total=$((before + after))
  start_weftd
  add_orders
  expect_ok story_pub1 "$publisher" --count "$before" --first 0 --subject orders.new --sidecar "$EP"
  kill_now "$WEFTD_PID"
  start_weftd
  expect_ok story_pub2 "$publisher" --count "$after" --first "$before" --subject orders.new --sidecar "$EP"
  # What the publisher was told is durable, by order number.
  sed -n 's/^order \([0-9]*\) stored in orders at offset [0-9]*$/\1/p' "$WORK/story_pub1.out" "$WORK/story_pub2.out" |
    sort -n >"$WORK/story_acked.txt"
  expect_ok story_replay "$WEFT" sub --stream orders --from first --count "$total" --raw --timeout "$DEADLINE_S"
  sed -n 's/^{"order": \([0-9]*\)}$/\1/p' "$WORK/story_replay.out" | sort -n >"$WORK/story_replayed.txt"
  local acknowledged replayed unique duplicates lost stored
  acknowledged=$(wc -l <"$WORK/story_acked.txt" | tr -d ' ')
  replayed=$(wc -l <"$WORK/story_replayed.txt" | tr -d ' ')
  unique=$(sort -un "$WORK/story_replayed.txt" | wc -l | tr -d ' ')
  duplicates=$((replayed - unique))
  lost=$(comm -23 <(sort -u "$WORK/story_acked.txt") <(sort -u "$WORK/story_replayed.txt") | wc -l | tr -d ' ')
  stored=$(info_field orders messages)
  echo "readme_story: published $total, acknowledged $acknowledged, replayed $replayed, duplicates $duplicates," \
       "lost $lost, stored $stored"
  [[ $acknowledged -eq $total ]] || fail "weftd acknowledged $acknowledged of $total"
  [[ $lost -eq 0 ]] || fail "$lost acknowledged messages were not replayed"
  [[ $duplicates -eq 0 ]] || fail "$duplicates messages were replayed twice"
  [[ $replayed -eq $total ]] || fail "replayed $replayed messages, not $total"
  [[ $stored -eq $total ]] || fail "the stream holds $stored messages, not $total (a message stored twice?)"
  stop_weftd
}

test_log_tools() {
  start_weftd
  add_orders --segment-bytes 4K
  expect_ok pub "$WEFT" stream pub orders.new --size 200 --count 60
  # Offline tools read while weftd runs (read-only), and after it stopped.
  expect_ok ls_live "$WEFT" log ls "$DATA/streams/orders"
  stop_weftd
  expect_ok ls "$WEFT" log ls "$DATA/streams/orders"
  [[ $(grep -c '^[0-9]*\.log .*sealed' "$WORK/ls.out") -ge 2 ]] || fail "log ls shows fewer than 2 segments"
  expect_ok dump "$WEFT" log dump "$DATA/streams/orders" --from 10 --count 5 --json
  [[ $(lines_of dump) -eq 5 ]] || fail "log dump --count 5 printed $(lines_of dump) lines"
  grep -q '"offset": *10[,}]' "$WORK/dump.out" || fail "log dump --from 10 did not start at 10"
  expect_ok verify "$WEFT" log verify "$DATA/streams/orders"
  grep -q ': ok: .* 60 records' "$WORK/verify.out" || fail "log verify does not report 60 good records"
  run missing "$WEFT" log verify "$WORK/no-such-dir"
  [[ $STATUS -ne 0 ]] || fail "log verify of a missing directory succeeded"
}

# flip_byte FILE OFFSET: inverts one byte in place.
flip_byte() {
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

test_damage() {
  start_weftd
  add_orders
  expect_ok pub "$WEFT" stream pub orders.new --size 100 --count 50
  stop_weftd
  local segment
  segment=$(find "$DATA/streams/orders" -name '*.log' | sort | head -n 1)
  [[ -f $segment ]] || fail "no segment file in $DATA/streams/orders"
  flip_byte "$segment" $(($(stat -c %s "$segment") / 2))
  run verify "$WEFT" log verify "$DATA/streams/orders"
  [[ $STATUS -ne 0 ]] || fail "log verify passed a segment with a flipped byte"
  grep -q 'first bad offset [0-9]' "$WORK/verify.out" || fail "log verify does not report the first bad offset"
  local bad
  bad=$(sed -n 's/.*first bad offset \([0-9]*\).*/\1/p' "$WORK/verify.out")
  ((bad > 5 && bad < 45)) || fail "the first bad offset $bad is not in the middle"
  # Recovery detects it and reports it; the damaged record is never served as data.
  start_weftd
  expect_ok info "$WEFT" stream info orders
  grep -q '^recovery:' "$WORK/info.out" && ! grep -q '^recovery: *clean' "$WORK/info.out" ||
    fail "stream info does not report the damage recovery found"
  run replay "$WEFT" sub --stream orders --from first --until-end --json --timeout "$DEADLINE_S"
  grep -q "\"offset\": *${bad}[,}]" "$WORK/replay.out" && fail "the damaged record was served"
  stop_weftd
}

test_config_file() {
  cat >"$WORK/weftd.conf" <<EOF
# streams of the config file
[stream.orders]
subjects = orders.>
subjects = refunds.*
retention-age = 3d
fsync = interval
fsync-interval = 20ms

[stream.audit]
subjects = audit.>
fsync = os
EOF
  expect_ok check "$WEFTD" --config "$WORK/weftd.conf" --data-dir "$DATA" --check-config
  grep -q '2 stream' "$WORK/check.out" || fail "--check-config does not count 2 streams"
  printf '[stream.bad]\nsubjects = x.>\nfsync = sometimes\n' >"$WORK/bad.conf"
  run bad "$WEFTD" --config "$WORK/bad.conf" --data-dir "$DATA" --check-config
  [[ $STATUS -eq 2 ]] || fail "a bad config file exited $STATUS, expected 2"
  grep -q 'fsync' "$WORK/bad.err" || fail "the config error does not name the setting"
  printf '[stream.a]\nsubjects = x.>\n[stream.b]\nsubjects = x.y\n' >"$WORK/overlap.conf"
  run overlap "$WEFTD" --config "$WORK/overlap.conf" --data-dir "$DATA"
  [[ $STATUS -ne 0 ]] || fail "overlapping streams in the config file were accepted"
  start_weftd --config "$WORK/weftd.conf"
  expect_ok info "$WEFT" stream info orders
  grep -q '^origin: *config' "$WORK/info.out" || fail "a config-file stream is not marked as such"
  grep -q '^fsync: *interval (20ms)' "$WORK/info.out" || fail "the fsync policy of the file was not applied"
  expect_ok pub "$WEFT" stream pub refunds.eu 'r' --count 3
  [[ $(info_field orders messages) == 3 ]] || fail "refunds.* did not go to orders"
  run rm "$WEFT" stream rm orders
  [[ $STATUS -ne 0 ]] || fail "a stream of the config file was removed at run time"
  stop_weftd
}

test_malformed() {
  start_weftd
  add_orders
  expect_ok garbage "$STORM" garbage "$EP"
  # weftd is still there and counted what it refused.
  expect_ok pub "$WEFT" stream pub orders.new 'after garbage'
  expect_ok status "$WEFT" stream status
  grep -Eq 'malformed.bad_header +[1-9]' "$WORK/status.out" || fail "weftd did not count malformed headers"
  stop_weftd
}

# A compacted stream: updates of three keys, a tombstone, and enough messages without a key after them that
# the updates end up in sealed segments; weftd compacts with its retention pass (every 100 ms here).
test_compaction() {
  start_weftd --retention-interval 100ms
  expect_ok add "$WEFT" stream add prices --subject 'prices.>' --compact --segment-bytes 4K
  info_field prices compaction | grep -q 'newest message per key' || fail "stream info does not show compaction"
  local round key
  for round in 1 2 3 4 5; do
    for key in k0 k1 k2; do
      expect_ok "pub_$key$round" "$WEFT" stream pub prices.x "$key=$round" --header "weft-key=$key"
    done
  done
  expect_ok tombstone "$WEFT" stream pub prices.x 'k1 deleted' --header weft-key=k1 --header weft-tombstone=true
  run bad_tombstone "$WEFT" stream pub prices.x 'no key' --header weft-tombstone=true
  [[ $STATUS -ne 0 ]] || fail "a tombstone without a weft-key was taken"
  expect_ok filler "$WEFT" stream pub prices.x --size 200 --count 60
  compacted() { grep -qs "stream 'prices': compaction removed" "$WORK/weftd.err"; }
  wait_until compacted || fail "weftd did not compact the stream"
  expect_ok replay "$WEFT" sub --stream prices --from first --until-end --raw --timeout "$DEADLINE_S"
  [[ $(grep -c '^k' "$WORK/replay.out") -eq 3 ]] ||
    fail "expected the newest of k0 and k2 and k1's tombstone, got: $(grep '^k' "$WORK/replay.out" | tr '\n' ' ')"
  grep -qx 'k0=5' "$WORK/replay.out" && grep -qx 'k2=5' "$WORK/replay.out" &&
    grep -qx 'k1 deleted' "$WORK/replay.out" || fail "the newest message of a key is missing: $(grep '^k' "$WORK/replay.out" | tr '\n' ' ')"
  [[ $(lines_of replay) -eq 63 ]] || fail "replayed $(lines_of replay) messages, expected 3 keyed and 60 without a key"
  expect_ok verify "$WEFT" log verify "$DATA/streams/prices"
  stop_weftd
}

ALL_CASES=(help stream_admin publish_replay large_credit durable_resume dead_letters sigterm log_tools damage
           config_file malformed readme_story compaction)
run_cases "$@"
