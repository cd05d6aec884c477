# shellcheck shell=bash
# The Markdown report and the plot of bench/load/run (sourced). Reads the
# arrays `rows` (ordered row names), `row_label`, `row_balancing`,
# `row_skipped` and `figure`.

# Prints a figure, or "—" when it was not measured.
show() {
  local value=${figure[$1]:-}
  echo "${value:-—}"
}

# Prints a share (0.5675) as a percentage (57%), or "—".
show_percent() {
  local value=${figure[$1]:-}
  [ -n "$value" ] || { echo "—"; return; }
  awk -v v="$value" 'BEGIN { printf "%.0f%%", v * 100 }'
}

# Prints a coefficient of variation with two decimals, or "—".
show_cv() {
  local value=${figure[$1]:-}
  [ -n "$value" ] || { echo "—"; return; }
  awk -v v="$value" 'BEGIN { printf "%.2f", v }'
}

# Prints microseconds as milliseconds with two decimals, or "—".
show_us_as_ms() {
  local value=${figure[$1]:-}
  [ -n "$value" ] || { echo "—"; return; }
  awk -v v="$value" 'BEGIN { printf "%.2f", v / 1000 }'
}

# Prints a wrk run's median requests per second and, when it ran more than
# once, the range: "55894 (51230–58010)".
show_rps() {
  local row=$1 run=$2 value=${figure[$1.$2_rps]:-}
  [ -n "$value" ] || { echo "—"; return; }
  if [ "$repeats" -gt 1 ]; then
    echo "$value (${figure[$row.${run}_rps_min]}–${figure[$row.${run}_rps_max]})"
  else
    echo "$value"
  fi
}

# Prints figure A divided by figure B with two decimals, or "—".
show_ratio() {
  local a=${figure[$1]:-} b=${figure[$2]:-}
  { [ -n "$a" ] && [ -n "$b" ] && [ "$b" != 0 ]; } || { echo "—"; return; }
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
}

machine_line() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  echo "$(nproc) cores (nproc), $cpu, Linux $(uname -r)"
}

write_report() {
  local out=$1 row skipped=""
  {
    echo "# Load benchmark: $(basename "$band")'s balancing strategies and their peers"
    echo
    echo "Written by bench/load/run on $(date -u '+%Y-%m-%d %H:%M UTC'); running it again replaces this file."
    echo
    echo "- Machine: $(machine_line)."
    echo "- Command: \`$command_line\`"
    echo "- Every server runs $workers workers on 127.0.0.1; the load generator runs on the same cores."
    echo "- Versions: $versions."
    write_contention_warning
    echo
    echo "## Throughput and latency (wrk)"
    echo
    echo "\`wrk -t1 -c$connections -d${seconds}s --latency\` on \`GET /\`, after an unrecorded 2 s warm-up,"
    if [ "$repeats" -gt 1 ]; then
      echo "$repeats times in a row; the table gives the run with the median requests per second, and"
      echo "the range of all runs in brackets. Connection per request adds \`-H \"Connection: close\"\`,"
    else
      echo "once. Connection per request adds \`-H \"Connection: close\"\`,"
    fi
    echo "so every request opens a new connection. Errors are wrk's socket errors plus non-2xx"
    echo "responses in all runs. Other CPU estimates the share of the machine's CPU time that"
    echo "processes other than the server and the load tools took during the server's runs"
    echo "(user and system time from /proc); above a few percent, the row is less trustworthy."
    echo
    echo "| server | balancing | keep-alive req/s | p50 ms | p99 ms | per request req/s | p50 ms | p99 ms | errors | other CPU |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
      if [ -n "${row_skipped[$row]:-}" ]; then
        skipped+="- ${row_label[$row]}: ${row_skipped[$row]}"$'\n'
        echo "| ${row_label[$row]} | ${row_balancing[$row]} | skipped | | | | | | | |"
        continue
      fi
      local errors=$(( ${figure[$row.keepalive_errors]:-0} + ${figure[$row.close_errors]:-0} ))
      echo "| ${row_label[$row]} | ${row_balancing[$row]} | $(show_rps "$row" keepalive) |" \
        "$(show "$row.keepalive_p50_ms") | $(show "$row.keepalive_p99_ms") | $(show_rps "$row" close) |" \
        "$(show "$row.close_p50_ms") | $(show "$row.close_p99_ms") | $errors | $(show "$row.other_cpu_percent")% |"
    done
    echo
    echo "## The server's CPU time (wrk)"
    echo
    echo "From the same wrk runs as above, the run with the median requests per second: the user and"
    echo "system time of the server's processes (master and workers, from /proc/PID/stat) divided by"
    echo "the requests answered, and the busiest process's share of that time. With 2 workers on 2 cores"
    echo "beside wrk, a server whose busiest process takes nearly 100% leaves a core to wrk, which"
    echo "raises its requests per second; the time per request does not depend on that. The kernel"
    echo "charges part of the loopback traffic to interrupt time, which no process's figure includes."
    echo
    echo "| server | keep-alive µs/request | busiest process | per request µs/request | busiest process |"
    echo "|---|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
      [ -n "${row_skipped[$row]:-}" ] && continue
      echo "| ${row_label[$row]} | $(show "$row.keepalive_cpu_us") | $(show "$row.keepalive_cpu_busiest_percent") |" \
        "$(show "$row.close_cpu_us") | $(show "$row.close_cpu_busiest_percent") |"
    done
    echo
    echo "## Spread over the workers and a skewed workload (bench-load-gen)"
    echo
    echo "Spread: $connections connections for $(((seconds + 1) / 2)) s on \`GET /\`, each response's worker"
    echo "read from its X-Worker-Pid header. With keep-alive, the count is of connections (by the worker"
    echo "of each one's first response); with a connection per request, it is of responses. Busiest is"
    echo "the busiest worker's share (an even spread is $((100 / workers))%); CV is the coefficient of"
    echo "variation of the per-worker counts (0 is even)."
    echo
    echo "Skewed: an open loop of $skew_rate requests/s for $seconds s, each on a new connection;"
    echo "every $((100 / heavy_percent))th request is \`/work?ms=$heavy_ms\` (CPU-bound, blocking its worker),"
    echo "the rest \`/\`. Latency counts from the request's scheduled start, so a late start counts too."
    echo "The light requests' latency shows whether a balancing strategy sends them to a busy worker."
    echo "nginx and the bare server have no \`/work\`."
    echo
    echo "| server | keep-alive connections: busiest | CV | per request: busiest | CV | skewed: light p50 ms | light p99 ms | heavy p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
      [ -n "${row_skipped[$row]:-}" ] && continue
      local errors=$(( ${figure[$row.spread_keepalive_errors]:-0} + ${figure[$row.spread_close_errors]:-0} +
        ${figure[$row.skew_errors]:-0} + ${figure[$row.skew_unfinished]:-0} + ${figure[$row.skew_skipped]:-0} ))
      echo "| ${row_label[$row]} | $(show_percent "$row.spread_keepalive_connection_max_share") |" \
        "$(show_cv "$row.spread_keepalive_connection_cv") | $(show_percent "$row.spread_close_max_share") |" \
        "$(show_cv "$row.spread_close_cv") | $(show_us_as_ms "$row.skew_light_p50_us") |" \
        "$(show_us_as_ms "$row.skew_light_p99_us") | $(show_us_as_ms "$row.skew_heavy_p99_us") | $errors |"
    done
    echo
    echo "Errors here are failed, unfinished (cut at the end of a run) and skipped (over 1024 open) requests."
    echo
    write_ratios
    if [ -n "$skipped" ]; then
      echo "## Skipped"
      echo
      printf '%s' "$skipped"
      echo
    fi
    local notes=""
    for row in "${rows[@]}"; do
      [ -n "${figure[$row.note]:-}" ] && notes+="- ${row_label[$row]}: ${figure[$row.note]}"$'\n'
    done
    if [ -n "$notes" ]; then
      echo "## Notes"
      echo
      printf '%s' "$notes"
    fi
  } >"$out"
}

# Prints "LOWEST–HIGHEST" of the rows' other CPU percentages, and fails
# when none is over quiet_percent.
contention_range() {
  local row value lowest="" highest=""
  for row in "${rows[@]}"; do
    value=${figure[$row.other_cpu_percent]:-}
    [ -n "$value" ] || continue
    if [ -z "$lowest" ] || [ "$value" -lt "$lowest" ]; then lowest=$value; fi
    if [ -z "$highest" ] || [ "$value" -gt "$highest" ]; then highest=$value; fi
  done
  [ -n "$highest" ] && [ "$highest" -gt "$quiet_percent" ] || return 1
  echo "$lowest–$highest"
}

# Warns when other processes took more than quiet_percent of the CPU time
# during any server's runs, because then the rows measure the machine's
# other work as much as the servers.
write_contention_warning() {
  local range
  range=$(contention_range) || return 0
  echo "- **Warning:** other processes took $range% of the machine's CPU time during the runs"
  echo "  (column \"other CPU\"), so the servers got less of it and unevenly. Compare rows with care,"
  echo "  and rerun on an idle machine before drawing conclusions from small differences."
}

# The throughput of each band row relative to each peer.
write_ratios() {
  local row peer peers=() header="| band | run" rule="|---|---"
  for peer in nginx node-rr node-none pm2 bare; do
    if [ -n "${row_label[$peer]:-}" ] && [ -z "${row_skipped[$peer]:-}" ]; then
      peers+=("$peer")
      header+=" | ÷ ${row_label[$peer]}"
      rule+="|---:"
    fi
  done
  [ "${#peers[@]}" -gt 0 ] || return 0
  echo "## band's throughput relative to its peers"
  echo
  echo "Requests per second of each band row divided by the peer's, from the wrk runs above."
  echo
  echo "$header |"
  echo "$rule|"
  for row in "${rows[@]}"; do
    [[ $row == band-* ]] || continue
    [ -z "${row_skipped[$row]:-}" ] || continue
    local run line
    for run in keepalive close; do
      if [ "$run" = keepalive ]; then line="| ${row_label[$row]} | keep-alive"; else line="| | per request"; fi
      for peer in "${peers[@]}"; do
        line+=" | $(show_ratio "$row.${run}_rps" "$peer.${run}_rps")"
      done
      echo "$line |"
    done
  done
  echo
}

# Writes the plot: the median requests per second of both wrk runs, and
# the light requests' p99 under the skewed workload.
write_plot() {
  local out=$1 throughput=$tmp/throughput.dat skew=$tmp/skew.dat row title command_text
  : >"$throughput"
  : >"$skew"
  for row in "${rows[@]}"; do
    [ -n "${row_skipped[$row]:-}" ] && continue
    printf '"%s"\t%s\t%s\n' "${row_short[$row]}" "$(show "$row.keepalive_rps")" "$(show "$row.close_rps")" \
      >>"$throughput"
    [ -n "${figure[$row.skew_light_p99_us]:-}" ] &&
      printf '"%s"\t%s\n' "${row_short[$row]}" "$(show_us_as_ms "$row.skew_light_p99_us")" >>"$skew"
  done
  # gnuplot strings are in double quotes, so the command line may hold none.
  command_text=${command_line//'"'/"'"}
  title="band load benchmark, $workers workers on 127.0.0.1, $(machine_line)\\n$command_text"
  local range
  if range=$(contention_range); then
    title+="\\nWarning: other processes took $range% of the CPU time during the runs (see the report)"
  fi
  local panels=2
  [ -s "$skew" ] || panels=1
  {
    cat <<PLOT
set terminal pngcairo size 1400,$((450 * panels)) font "sans,11"
set output "$out"
set multiplot layout $panels,1 title "$title"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top right
set yrange [0:*]
set title "wrk -t1 -c$connections -d${seconds}s on GET /: requests per second (median of $repeats runs)"
plot "$throughput" using 2:xtic(1) title "keep-alive", "" using 3 title "connection per request"
PLOT
    # Only servers with /work have this panel.
    [ "$panels" -eq 2 ] && cat <<PLOT
set title "Skewed open loop, $skew_rate requests/s, every $((100 / heavy_percent))th /work?ms=$heavy_ms: p99 latency of the light requests in ms (lower is better)"
plot "$skew" using 2:xtic(1) title "light requests' p99" linecolor rgb "#c04040"
PLOT
    echo "unset multiplot"
  } | gnuplot
}
