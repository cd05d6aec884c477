# shellcheck shell=bash
# The measured runs of one server, for bench/reload/run (sourced). Each
# stores its figures in the associative array `figure` under "ROW.RUN.NAME"
# (RUN is keepalive.baseline, keepalive.reloads, close.baseline or
# close.reloads) and keeps wrk's output in $tmp/ROW.RUN.txt and the
# reloads' record in $tmp/ROW.RUN.record.

# Prints the wall clock in microseconds. EPOCHREALTIME has six decimals,
# and its separator follows the locale.
now_us() {
  echo "${EPOCHREALTIME//[!0-9]/}"
}

sleep_until_us() {
  local delay=$(($1 - $(now_us)))
  if [ "$delay" -gt 0 ]; then
    sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
  fi
}

# Prints the server's worker pids, ascending, separated by spaces. Every
# child of band's and nginx's master and of PM2's daemon is a worker.
worker_pids() {
  children_of "$server_pid" | sort -n | tr '\n' ' '
}

# Remembers the current workers, so that stop_server can kill any that
# outlive the server.
remember_workers() {
  local pid
  server_workers=""
  for pid in $(worker_pids); do
    server_workers+="$pid:$(start_time_of "$pid") "
  done
}

# band's log lines of level warning, error or critical (spdlog's names).
readonly problem_pattern=' (warning|error|critical) +\['

# count_log_lines ROW PATTERN: the lines of band's log that match PATTERN.
count_log_lines() {
  local log=$tmp/$1.log
  [ -f "$log" ] || { echo 0; return; }
  grep -c -E -- "$2" "$log" || true
}

# send_reload KIND: sends the server the signal or command that reloads it.
send_reload() {
  case $1 in
    band) kill -HUP "$server_pid" ;;
    nginx) timeout 10 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" -s reload ;;
    pm2) run_pm2 30 reload bench-load ;;
  esac
}

# reload_done ROW KIND OLD_PIDS FINISHED: succeeds when the server runs
# `workers` workers and none of OLD_PIDS, and, for band, when its log has
# at least FINISHED "reload N finished" lines.
reload_done() {
  local row=$1 kind=$2 old=" $3 " finished=$4 pid count=0
  for pid in $(worker_pids); do
    [[ $old == *" $pid "* ]] && return 1
    count=$((count + 1))
  done
  [ "$count" -eq "$workers" ] || return 1
  [ "$kind" != band ] || [ "$(count_log_lines "$row" 'reload [0-9]+ finished')" -ge "$finished" ]
}

# send_reloads ROW KIND START_US RECORD: sends `reloads` reloads, reload i
# at START_US + i * interval_us or, when the one before took longer, as
# soon as that one is confirmed or given up. A reload that would go out
# after the wrk run has ended is not sent. After each it polls, for at most
# interval_us, until reload_done confirms it. Writes one line a reload to
# RECORD: "I SENT_MS OUTCOME OLD_PIDS / NEW_PIDS", SENT_MS from START_US,
# OUTCOME the milliseconds from the send (covering the reload command
# itself) to the confirmation, or "unconfirmed", "send-failed" or
# "not-sent".
send_reloads() {
  local row=$1 kind=$2 start=$3 record=$4 i old sent deadline outcome finished
  local run_end=$((start + seconds * 1000000))
  finished=$(count_log_lines "$row" 'reload [0-9]+ finished')
  for ((i = 1; i <= reloads; i++)); do
    sleep_until_us $((start + i * interval_us))
    old=$(worker_pids)
    sent=$(now_us)
    if [ "$sent" -ge "$run_end" ]; then
      echo "$i $(((sent - start) / 1000)) not-sent $old/ " >>"$record"
      continue
    fi
    if ! send_reload "$kind" >>"$tmp/$row.reload-commands.log" 2>&1; then
      echo "$i $(((sent - start) / 1000)) send-failed $old/ " >>"$record"
      continue
    fi
    deadline=$((sent + interval_us))
    outcome=unconfirmed
    while :; do
      if reload_done "$row" "$kind" "$old" $((finished + i)); then
        outcome=$((($(now_us) - sent) / 1000))
        break
      fi
      [ "$(now_us)" -lt "$deadline" ] || break
      sleep "$poll_s"
    done
    echo "$i $(((sent - start) / 1000)) $outcome $old/ $(worker_pids)" >>"$record"
  done
}

# wrk_once ROW RUN [WRK FLAGS]: one wrk run against the current server;
# stores requests, the failures by kind and in all, p99_ms and max_ms.
wrk_once() {
  local row=$1 run=$2 out
  shift 2
  out=$tmp/$row.$run.txt
  figure[$row.$run.load_before]=$(cut -d' ' -f1 /proc/loadavg)
  if ! timeout $((seconds + 15)) wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" \
    "http://127.0.0.1:$server_port/" >"$out" 2>&1; then
    echo "bench/reload/run: wrk failed for $row ($run); its output: $(tr '\n' ' ' <"$out")" >&2
    return 1
  fi
  local key=$row.$run
  figure[$key.requests]=$(awk '/ requests in / { print $1 }' "$out")
  # "Socket errors: connect 0, read 3, write 0, timeout 0" appears only
  # when one of them is not 0; likewise "Non-2xx or 3xx responses: N".
  read -r figure[$key.connect] figure[$key.read] figure[$key.write] figure[$key.timeout] < <(awk '
    /Socket errors:/ { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
    END { print c + 0, r + 0, w + 0, t + 0 }' "$out")
  figure[$key.non2xx]=$(awk '/Non-2xx or 3xx responses:/ { n = $5 } END { print n + 0 }' "$out")
  figure[$key.failed]=$((figure[$key.connect] + figure[$key.read] + figure[$key.write] +
    figure[$key.timeout] + figure[$key.non2xx]))
  figure[$key.p99_ms]=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  figure[$key.max_ms]=$(wrk_ms "$(awk '$1 == "Latency" { print $4; exit }' "$out")")
}

# summarize_record ROW RUN: counts the sent and the confirmed reloads of a
# run, and the median and maximum of the confirmed ones' milliseconds.
summarize_record() {
  local key=$1.$2 record=$tmp/$1.$2.record
  figure[$key.sent]=$(awk '$3 != "not-sent"' "$record" | wc -l)
  figure[$key.confirmed]=$(awk '$3 ~ /^[0-9]+$/' "$record" | wc -l)
  read -r figure[$key.confirmed_median_ms] figure[$key.confirmed_max_ms] < <(awk '$3 ~ /^[0-9]+$/ { print $3 }' "$record" |
    sort -n | awk '{ value[NR] = $1 } END {
      if (NR == 0) { print "—", "—"; exit }
      print value[int((NR + 1) / 2)], value[NR] }')
}

# measure_reloads ROW KIND: the four runs of the server that is up. KIND
# (band, nginx or pm2) picks how reloads are sent and confirmed.
measure_reloads() {
  local row=$1 kind=$2 mode run start finished_before
  local -a header
  echo "bench/reload/run: measuring $row on 127.0.0.1:$server_port" >&2
  # Warm-up, unrecorded: lets Node compile its hot paths before the first figure.
  timeout 20 wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$server_port/" >/dev/null 2>&1 || true
  finished_before=$(count_log_lines "$row" 'reload [0-9]+ finished')

  for mode in keepalive close; do
    header=()
    [ "$mode" = close ] && header=(-H "Connection: close")
    wrk_once "$row" "$mode.baseline" "${header[@]}" || return 1

    run=$mode.reloads
    : >"$tmp/$row.$run.record"
    start=$(now_us)
    send_reloads "$row" "$kind" "$start" "$tmp/$row.$run.record" &
    reload_job=$!
    wrk_once "$row" "$run" "${header[@]}" || return 1
    wait "$reload_job" || true
    reload_job=""
    summarize_record "$row" "$run"
    echo "bench/reload/run: $row $run: ${figure[$row.$run.sent]} of $reloads reloads sent during the run," \
      "${figure[$row.$run.confirmed]} confirmed," \
      "${figure[$row.$run.failed]} of ${figure[$row.$run.requests]} requests failed" >&2
  done

  if [ "$kind" = band ]; then
    figure[$row.finished]=$(($(count_log_lines "$row" 'reload [0-9]+ finished') - finished_before))
    figure[$row.failed_reloads]=$(count_log_lines "$row" 'reload [0-9]+ failed')
    figure[$row.log_problems]=$(count_log_lines "$row" "$problem_pattern")
    grep -E -m 5 -- "$problem_pattern" "$tmp/$row.log" >"$tmp/$row.problems" || true
  fi
  remember_workers
}
