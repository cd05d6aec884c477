# shellcheck shell=bash
# The Markdown report of bench/reload/run (sourced). Reads the arrays
# `rows`, `row_label`, `row_skipped` and `figure`, and calls `show` from
# bench/load/lib/report.sh.

readonly mode_names=(keepalive close)
declare -A mode_label=([keepalive]=keep-alive [close]="Connection: close")

# Prints "BASELINE → RELOADS" for one figure of a mode's two runs.
show_change() {
  local row=$1 mode=$2 name=$3
  echo "$(show "$row.$mode.baseline.$name") → $(show "$row.$mode.reloads.$name")"
}

# Prints "FAILED/TOTAL" of a row's reload runs, both modes together, then
# each mode's: "3/250000 (keep-alive 3/200000, Connection: close 0/50000)".
show_failed_total() {
  local row=$1 mode key failed=0 total=0 by_mode=()
  for mode in "${mode_names[@]}"; do
    key=$row.$mode.reloads
    failed=$((failed + ${figure[$key.failed]:-0}))
    total=$((total + ${figure[$key.requests]:-0}))
    by_mode+=("${mode_label[$mode]} $(show "$key.failed")/$(show "$key.requests")")
  done
  echo "$failed/$total (${by_mode[0]}, ${by_mode[1]})"
}

# Prints a run's record of reloads as Markdown list items: when each was
# sent, the worker pids before and after, and when it was confirmed.
show_record() {
  local record=$1 i sent outcome old new
  while read -r i sent outcome old; do
    new=${old#*/}
    old=${old%%/*}
    case $outcome in
      unconfirmed) outcome="not confirmed within the interval" ;;
      send-failed) outcome="the reload command failed" ;;
      not-sent)
        echo "  - reload $i: not sent, because at $sent ms the run had ended"
        continue
        ;;
      *) outcome="confirmed after $outcome ms" ;;
    esac
    echo "  - reload $i at $sent ms: pids ${old% } → ${new# }; $outcome"
  done <"$record"
}

# Prints what each server does with its keep-alive connections when a
# worker stops, which explains the keep-alive rows.
write_keepalive_notes() {
  local row measured=" "
  for row in "${rows[@]}"; do
    [ -n "${row_skipped[$row]:-}" ] || measured+="${row%%-*} "
  done
  echo "## How each server closes an old worker's keep-alive connections"
  echo
  if [[ $measured == *" band "* ]]; then
    echo "- band: a draining worker answers a request that has begun with \`Connection: close\`, and"
    echo "  closes a keep-alive connection only after 100 ms without a new request"
    echo "  (common/src/demo_app.cpp)."
  fi
  if [[ $measured == *" nginx "* ]]; then
    echo "- nginx: a worker that stops gracefully closes its idle keep-alive connections at once"
    echo "  (ngx_worker_process_cycle in src/os/unix/ngx_process_cycle.c). A request that wrk has"
    echo "  written but nginx has not read yet gets no response, and wrk counts a read error."
  fi
  if [[ $measured == *" pm2 "* ]]; then
    echo "- PM2 $pm2_version: \`pm2 reload\` stops an old worker with SIGINT, and SIGKILL after 1600 ms"
    echo "  (KILL_SIGNAL and KILL_TIMEOUT in its constants.js). bench/load/node/server.js has no SIGINT"
    echo "  handler, so the worker exits at once, with the requests it has in progress."
  fi
  echo
}

write_reload_report() {
  local out=$1 row mode skipped="" seconds_apart
  seconds_apart=$(awk -v us="$interval_us" 'BEGIN { printf "%.2f", us / 1000000 }')
  {
    echo "# Day 04: failed requests and latency during rolling reloads"
    echo
    echo "Written by bench/reload/run on $(date -u '+%Y-%m-%d %H:%M UTC'); running it again replaces this file."
    echo
    echo "- Machine: $machine; load average at start: $load_at_start."
    echo "- Command: \`$command_line\`"
    echo "- Every server runs $workers workers on 127.0.0.1; wrk runs on the same cores."
    echo "- Versions: $versions."
    echo "- Load: \`wrk -t1 -c$connections -d${seconds}s --latency http://127.0.0.1:PORT/\` (keep-alive),"
    echo "  and the same with \`-H \"Connection: close\"\` (a new connection per request), after an"
    echo "  unrecorded 2 s warm-up. wrk's request timeout is its default, 2 s."
    echo "- Reloads: $reloads per run, ${seconds_apart} s apart, the first ${seconds_apart} s into the run:"
    echo "  band gets SIGHUP, nginx \`nginx -p DIR -c DIR/nginx.conf -s reload\`, PM2 \`pm2 reload\`."
    echo "  A reload starts late when the one before took longer than that, and one that would"
    echo "  start after the run has ended is not sent. The baseline is a run of the same length"
    echo "  without reloads, just before."
    echo
    echo "Failed counts wrk's socket errors (connect, read, write, timeout) and its non-2xx-or-3xx"
    echo "responses; no server here sends a 3xx. A reload is confirmed when the server runs $workers"
    echo "workers and none of those it ran before, and for band when its log also has one more"
    echo "\`reload N finished\` line. It is checked until ${seconds_apart} s after the reload was sent, or once"
    echo "more when the reload command (\`nginx -s reload\`, \`pm2 reload\`) took longer. Confirmed"
    echo "after is the time from sending the reload to that confirmation,"
    echo "polled every $(awk -v s="$poll_s" 'BEGIN { print s * 1000 }') ms."
    echo
    echo "| server | connections | reloads sent / confirmed | requests | failed | p99 ms: baseline → reloads | max ms: baseline → reloads | confirmed after ms: median / max |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
      if [ -n "${row_skipped[$row]:-}" ]; then
        skipped+="- ${row_label[$row]}: ${row_skipped[$row]}"$'\n'
        echo "| ${row_label[$row]} | | skipped | | | | | |"
        continue
      fi
      for mode in "${mode_names[@]}"; do
        echo "| ${row_label[$row]} | ${mode_label[$mode]} | $(show "$row.$mode.reloads.sent") / $(show "$row.$mode.reloads.confirmed") |" \
          "$(show "$row.$mode.reloads.requests") | $(show "$row.$mode.reloads.failed") |" \
          "$(show_change "$row" "$mode" p99_ms) | $(show_change "$row" "$mode" max_ms) |" \
          "$(show "$row.$mode.reloads.confirmed_median_ms") / $(show "$row.$mode.reloads.confirmed_max_ms") |"
      done
    done
    echo
    echo "Other processes may share the cores (the load averages are under Every run); when they do,"
    echo "p99 and max vary from run to run even without reloads."
    echo
    echo "## Failed over all reloads"
    echo
    echo "Failed and total requests of both runs with reloads."
    echo
    for row in "${rows[@]}"; do
      [ -n "${row_skipped[$row]:-}" ] && continue
      echo "- ${row_label[$row]}: $(show_failed_total "$row")"
    done
    echo
    echo "## Every run"
    echo
    echo "| server | run | requests | connect | read | write | timeout | non-2xx | p99 ms | max ms | load average before |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local run key
    for row in "${rows[@]}"; do
      [ -n "${row_skipped[$row]:-}" ] && continue
      for mode in "${mode_names[@]}"; do
        for run in baseline reloads; do
          key=$row.$mode.$run
          echo "| ${row_label[$row]} | ${mode_label[$mode]}, $run | $(show "$key.requests") |" \
            "$(show "$key.connect") | $(show "$key.read") | $(show "$key.write") | $(show "$key.timeout") |" \
            "$(show "$key.non2xx") | $(show "$key.p99_ms") | $(show "$key.max_ms") | $(show "$key.load_before") |"
        done
      done
    done
    echo
    local band_notes="" sent
    for row in "${rows[@]}"; do
      [ -n "${figure[$row.finished]:-}" ] || continue
      band_notes+="- ${row_label[$row]}: ${figure[$row.finished]} \`reload N finished\` lines for"
      sent=$((figure[$row.keepalive.reloads.sent] + figure[$row.close.reloads.sent]))
      band_notes+=" $sent reloads sent, ${figure[$row.failed_reloads]} \`reload N failed\`,"
      band_notes+=" ${figure[$row.log_problems]} lines of level warning, error or critical."$'\n'
      if [ -s "$tmp/$row.problems" ]; then
        band_notes+="  The first of them:"$'\n\n'"  \`\`\`"$'\n'
        band_notes+=$(sed 's/^/  /' "$tmp/$row.problems")$'\n'"  \`\`\`"$'\n'
      fi
    done
    echo "<details><summary>Worker pids before and after each reload</summary>"
    echo
    for row in "${rows[@]}"; do
      [ -n "${row_skipped[$row]:-}" ] && continue
      for mode in "${mode_names[@]}"; do
        [ -f "$tmp/$row.$mode.reloads.record" ] || continue
        echo "- ${row_label[$row]}, ${mode_label[$mode]}:"
        show_record "$tmp/$row.$mode.reloads.record"
      done
    done
    echo
    echo "</details>"
    echo
    if [ -n "$band_notes" ]; then
      echo "## band's log"
      echo
      printf '%s' "$band_notes"
      echo
    fi
    write_keepalive_notes
    if [ -n "$skipped" ]; then
      echo "## Skipped"
      echo
      printf '%s' "$skipped"
    fi
  } >"$out"
}
