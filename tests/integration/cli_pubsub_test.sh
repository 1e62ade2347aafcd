#!/usr/bin/env bash
# `weft pub` and `weft sub` as real processes over real sockets.
#
#   cli_pubsub_test.sh WEFT_BINARY [CASE...]
#
# Runs the named cases (all of them without names); CTest registers each case as its own test. Every wait is
# a deadline loop on a condition (a "listening on" line, a process exit, output); no fixed ports, and cleanup
# kills only the processes this script started.
set -u -o pipefail

WEFT=${1:?usage: cli_pubsub_test.sh WEFT_BINARY [CASE...]}
shift
readonly WEFT
# Generous for a loaded CI machine; a passing case takes well under a second.
readonly DEADLINE_S=15

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAIL_FROM="head"
make_work weft-cli-test

# A subscriber listening on a wildcard tcp port, and a publisher that connects to the port it printed.
test_tcp_sub_bind() {
  start sub sub --bind 'tcp://127.0.0.1:*' --count 1 'demo.>'
  local sub=$PID
  endpoint_of sub
  [[ $ENDPOINT =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]] || fail "unexpected endpoint '$ENDPOINT'"
  "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" demo.hello 'hello world' 2>"$WORK/pub.err" ||
    fail "pub exited $?"
  finish "$sub" sub
  expect_status 0 sub
  grep -Eq '^demo\.hello  #1  [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}  11 B$' "$WORK/sub.out" ||
    fail "no human header line"
  grep -qx 'hello world' "$WORK/sub.out" || fail "payload not printed"
  grep -q '^published 1 message (11 B) in ' "$WORK/pub.err" || fail "no pub summary"
  grep -q '^received 1 message (11 B) in ' "$WORK/sub.err" || fail "no sub summary"
}

# A publisher bound to an ipc socket, a subscriber that connects; --count on both sides.
test_ipc_pub_bind() {
  local socket="ipc://$WORK/pub.sock"
  start pub pub --bind "$socket" --wait "$DEADLINE_S" --count 3 demo.ipc 'over ipc'
  local pub=$PID
  endpoint_of pub
  [[ $ENDPOINT == "$socket" ]] || fail "pub listens on '$ENDPOINT', not $socket"
  "$WEFT" sub --connect "$socket" --count 3 --raw 'demo.*' >"$WORK/sub.out" 2>"$WORK/sub.err" ||
    fail "sub exited $?"
  finish "$pub" pub
  expect_status 0 pub
  [[ $(cat "$WORK/sub.out") == $'over ipc\nover ipc\nover ipc' ]] || fail "sub --raw printed the wrong lines"
  grep -q 'no subscriber' "$WORK/pub.err" && fail "pub did not see the subscriber"
  grep -q '^published 3 messages ' "$WORK/pub.err" || fail "no pub summary"
}

# sub --count stops after N although more come.
test_count() {
  start sub sub --bind 'tcp://127.0.0.1:*' --count 2 --raw count.x
  local sub=$PID
  endpoint_of sub
  "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" --count 50 count.x m 2>"$WORK/pub.err" || fail "pub exited $?"
  finish "$sub" sub
  expect_status 0 sub
  [[ $(wc -l <"$WORK/sub.out") -eq 2 ]] || fail "sub printed $(wc -l <"$WORK/sub.out") lines, expected 2"
}

# --json lines parse, carry every field, the headers, and base64 for a payload that is not UTF-8.
test_json_headers() {
  start sub sub --bind 'tcp://127.0.0.1:*' --count 3 --json 'js.>'
  local sub=$PID
  endpoint_of sub
  "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" --count 2 --header trace=abc --header 'note=two words' \
    --header 'eq=a=b' js.text $'caf\xc3\xa9 "quoted"\ttab' 2>"$WORK/pub.err" || fail "pub exited $?"
  "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" js.bin $'\x01\xff\xfebin' 2>>"$WORK/pub.err" ||
    fail "pub exited $?"
  finish "$sub" sub
  expect_status 0 sub
  python3 - "$WORK/sub.out" <<'EOF' || fail "the JSON lines are wrong"
import base64, json, sys, time
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 3, lines
messages = [json.loads(line) for line in lines]
fields = {"subject", "stream", "sequence", "timestamp_ns", "headers", "payload", "payload_encoding", "size"}
for m in messages:
    assert set(m) == fields, m
    assert isinstance(m["stream"], int) and m["stream"] > 0, m
    assert abs(m["timestamp_ns"] / 1e9 - time.time()) < 600, m
text = [m for m in messages if m["subject"] == "js.text"]
assert [m["sequence"] for m in text] == [1, 2], text
assert text[0]["stream"] == text[1]["stream"], text
for m in text:
    assert m["headers"] == {"trace": "abc", "note": "two words", "eq": "a=b"}, m
    assert m["payload"] == 'café "quoted"\ttab', m
    assert m["payload_encoding"] == "utf8" and m["size"] == len(m["payload"].encode()), m
(binary,) = [m for m in messages if m["subject"] == "js.bin"]
assert binary["payload_encoding"] == "base64", binary
assert base64.b64decode(binary["payload"]) == b"\x01\xff\xfebin", binary
assert binary["size"] == 6 and binary["headers"] == {}, binary
EOF
}

# Without DATA, every line of stdin is one message, the empty line and an unterminated last line too.
test_stdin_lines() {
  start sub sub --bind 'tcp://127.0.0.1:*' --count 4 --json lines.app
  local sub=$PID
  endpoint_of sub
  printf 'first line\nsecond line\n\nlast, no newline' |
    "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" lines.app 2>"$WORK/pub.err" || fail "pub exited $?"
  finish "$sub" sub
  expect_status 0 sub
  python3 - "$WORK/sub.out" <<'EOF' || fail "stdin lines arrived wrong"
import json, sys
payloads = [json.loads(line)["payload"] for line in open(sys.argv[1])]
assert payloads == ["first line", "second line", "", "last, no newline"], payloads
EOF
  grep -q '^published 4 messages ' "$WORK/pub.err" || fail "no pub summary"
}

# --size makes a payload of that many bytes; --count repeats it; --rate paces without losing any.
test_size_rate() {
  start sub sub --bind 'tcp://127.0.0.1:*' --count 5 --json size.x
  local sub=$PID
  endpoint_of sub
  "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" --size 1000 --count 5 --rate 100 size.x \
    2>"$WORK/pub.err" || fail "pub exited $?"
  finish "$sub" sub
  expect_status 0 sub
  python3 - "$WORK/sub.out" <<'EOF' || fail "--size payloads are wrong"
import json, sys
messages = [json.loads(line) for line in open(sys.argv[1])]
assert len(messages) == 5, messages
assert all(m["size"] == 1000 and len(m["payload"]) == 1000 for m in messages), messages
EOF
  grep -q '^published 5 messages (5.0 KB) in ' "$WORK/pub.err" || fail "no pub summary"
}

# A payload that is not text prints as a hex dump in the human format, cut short without --full.
test_human_binary() {
  start sub sub --bind 'tcp://127.0.0.1:*' --count 1 bin.x
  local sub=$PID
  endpoint_of sub
  "$WEFT" pub --connect "$ENDPOINT" --wait "$DEADLINE_S" bin.x "$(printf '\x1b[31mred%.0s' {1..40})" \
    2>"$WORK/pub.err" || fail "pub exited $?"
  finish "$sub" sub
  expect_status 0 sub
  grep -q '^  0000  1b 5b 33 31 6d 72 65 64' "$WORK/sub.out" || fail "no hex dump"
  grep -q 'more bytes (--full shows everything)' "$WORK/sub.out" || fail "no truncation note"
  LC_ALL=C grep -q $'\x1b' "$WORK/sub.out" && fail "an escape byte reached the terminal"
  true
}

# --timeout with --count not reached exits 1 and says so; --timeout alone exits 0.
test_timeout() {
  "$WEFT" sub --bind 'tcp://127.0.0.1:*' --count 5 --timeout 0.3 t.x >"$WORK/sub.out" 2>"$WORK/sub.err"
  STATUS=$?
  expect_status 1 "sub --count --timeout"
  grep -q 'received 0 of 5 messages before the 0.3 s timeout' "$WORK/sub.err" || fail "no timeout message"
  "$WEFT" sub --bind 'tcp://127.0.0.1:*' --timeout 0.3 t.x >"$WORK/sub.out" 2>"$WORK/sub.err"
  STATUS=$?
  expect_status 0 "sub --timeout"
}

# SIGINT and SIGTERM end both verbs cleanly, with their summaries.
test_signals() {
  start sub sub --bind 'tcp://127.0.0.1:*' 'sig.>'
  local sub=$PID
  endpoint_of sub
  kill -INT "$sub"
  finish "$sub" sub
  expect_status 0 "sub after SIGINT"
  grep -q '^received 0 messages ' "$WORK/sub.err" || fail "sub printed no summary"
  # pub reading a stdin that never ends: a signal must not wait for the next line.
  mkfifo "$WORK/stdin"
  "$WEFT" pub --bind 'tcp://127.0.0.1:*' --wait 0 sig.x <"$WORK/stdin" >"$WORK/pub.out" 2>"$WORK/pub.err" &
  local pub=$!
  PIDS+=("$pub")
  exec {holder}>"$WORK/stdin"  # the writer end stays open, so pub sees no end of input
  endpoint_of pub
  kill -TERM "$pub"
  finish "$pub" pub
  exec {holder}>&-
  expect_status 0 "pub after SIGTERM"
  grep -q '^published 0 messages ' "$WORK/pub.err" || fail "pub printed no summary"
}

# Both verbs teach with --help, and exit 0.
test_help() {
  local verb
  for verb in pub sub; do
    "$WEFT" "$verb" --help >"$WORK/help.out" 2>"$WORK/help.err"
    STATUS=$?
    expect_status 0 "$verb --help"
    grep -q "^usage: weft $verb " "$WORK/help.out" || fail "$verb --help prints no usage"
    local option
    for option in --bind --connect --count --name Examples: 'pairs with'; do
      grep -q -- "$option" "$WORK/help.out" || fail "$verb --help does not mention $option"
    done
  done
}

# expect_usage_error PATTERN ARGS...: `weft ARGS` exits 2 with one line on stderr matching PATTERN.
expect_usage_error() {
  local pattern=$1
  shift
  "$WEFT" "$@" >"$WORK/usage.out" 2>"$WORK/usage.err"
  STATUS=$?
  expect_status 2 "weft $*"
  [[ $(wc -l <"$WORK/usage.err") -eq 1 ]] || fail "weft $* printed more than one line on stderr"
  grep -q -- "$pattern" "$WORK/usage.err" || fail "weft $*: stderr does not match '$pattern'"
  [[ -s $WORK/usage.out ]] && fail "weft $* printed on stdout"
  true
}

test_usage_errors() {
  local any='tcp://127.0.0.1:*'
  expect_usage_error "with --no-discovery, give --bind or --connect" pub --no-discovery demo.x hi
  expect_usage_error "with --no-discovery, give --bind or --connect" sub --no-discovery 'demo.>'
  expect_usage_error "subject 'demo..x'" pub --bind "$any" demo..x hi
  expect_usage_error "subject 'demo.\*'" pub --bind "$any" 'demo.*' hi
  expect_usage_error "pattern 'a.>.b'" sub --bind "$any" 'a.>.b'
  expect_usage_error "give the SUBJECT" pub --bind "$any"
  expect_usage_error "give the PATTERN" sub --bind "$any"
  expect_usage_error "unrecognised option '--bogus'" pub --bogus demo.x
  expect_usage_error "unrecognised option '--bogus'" sub --bogus demo.x
  expect_usage_error "'--count' is invalid" pub --bind "$any" --count many demo.x hi
  expect_usage_error "--count must be at least 1" pub --bind "$any" --count 0 demo.x hi
  expect_usage_error "--header 'novalue' is not of the form key=value" pub --bind "$any" --header novalue demo.x hi
  expect_usage_error "--header '=v' is not of the form key=value" pub --bind "$any" --header =v demo.x hi
  expect_usage_error "give DATA or --size, not both" pub --bind "$any" --size 10 demo.x hi
  expect_usage_error "too many positional" pub --bind "$any" demo.x hi extra
  expect_usage_error "give --raw or --json, not both" sub --bind "$any" --raw --json demo.x
  expect_usage_error "--timeout takes a number of seconds" sub --bind "$any" --timeout -1 demo.x
  expect_usage_error "cannot bind nope://where" sub --bind nope://where demo.x
}

ALL_CASES=(help usage_errors tcp_sub_bind ipc_pub_bind count json_headers stdin_lines size_rate human_binary
           timeout signals)
[[ -x $WEFT ]] || { echo "not an executable: $WEFT" >&2; exit 1; }
run_cases "$@"
