# shellcheck shell=bash
# The measurements of one server, for bench/load/run (sourced). Each stores
# its figures in the associative array `figure` under "ROW.NAME" and keeps
# the tool's raw output in $tmp/ROW.NAME.txt.

# Converts wrk's "634.00us", "7.19ms" or "1.02s" to milliseconds.
wrk_ms() {
  awk -v text="$1" 'BEGIN {
    value = text + 0
    if (text ~ /us$/) value /= 1000
    else if (text ~ /ms$/) value *= 1
    else if (text ~ /m$/) value *= 60000
    else if (text ~ /s$/) value *= 1000
    printf "%.2f", value
  }'
}

# wrk_run ROW NAME [WRK FLAGS]: `repeats` wrk runs against the current
# server. The run with the median requests per second gives NAME_rps,
# NAME_p50_ms, NAME_p99_ms, NAME_cpu_us (the server's CPU time per
# request) and NAME_cpu_busiest_percent (the busiest server process's share
# of that time). All runs together give NAME_rps_min, NAME_rps_max and
# NAME_errors (socket errors plus non-2xx/3xx responses).
wrk_run() {
  local row=$1 name=$2 i out total busiest
  shift 2
  local -a runs=()
  for ((i = 1; i <= repeats; i++)); do
    out=$tmp/$row.$name.$i.txt
    process_ticks "$server_pid" >"$out.before"
    if ! timeout $((seconds + 15)) wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" \
      "http://127.0.0.1:$server_port/" >"$out" 2>&1; then
      echo "bench/load/run: wrk failed for $row ($name); its output is in $out" >&2
      return 1
    fi
    process_ticks "$server_pid" >"$out.after"
    server_cpu "$out.before" "$out.after" >"$out.cpu"
    runs+=("$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out") $out")
  done

  local sorted median
  sorted=$(printf '%s\n' "${runs[@]}" | sort -n)
  median=$(sed -n "$(((repeats + 1) / 2))p" <<<"$sorted")
  out=${median#* }
  figure[$row.${name}_rps]=${median%% *}
  figure[$row.${name}_rps_min]=$(head -n 1 <<<"$sorted" | cut -d' ' -f1)
  figure[$row.${name}_rps_max]=$(tail -n 1 <<<"$sorted" | cut -d' ' -f1)
  figure[$row.${name}_p50_ms]=$(wrk_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  figure[$row.${name}_p99_ms]=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  local requests
  requests=$(awk '/ requests in / { print $1 }' "$out")
  read -r total busiest <"$out.cpu"
  figure[$row.${name}_cpu_us]=$(awk -v ticks="$total" -v hz="$clock_ticks" -v requests="$requests" \
    'BEGIN { if (requests > 0) printf "%.1f", ticks * 1e6 / hz / requests }')
  figure[$row.${name}_cpu_busiest_percent]=$(awk -v total="$total" -v busiest="$busiest" \
    'BEGIN { if (total > 0) printf "%.0f%%", busiest * 100 / total }')
  figure[$row.${name}_errors]=$(cat "$tmp/$row.$name".*.txt | awk '
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errors += $5 }
    END { print errors + 0 }')
}

# loadgen_run ROW NAME [BENCH-LOAD-GEN FLAGS]: one bench-load-gen run;
# stores every "name value" line of its report as NAME_name.
loadgen_run() {
  local row=$1 name=$2 out key value
  shift 2
  out=$tmp/$row.$name.txt
  if ! timeout $((seconds + 15)) "$loadgen" --target "127.0.0.1:$server_port" --workers "$workers" "$@" \
    >"$out" 2>"$tmp/$row.$name.stderr"; then
    echo "bench/load/run: bench-load-gen failed for $row ($name): $(tail -n 1 "$tmp/$row.$name.stderr")" >&2
    return 1
  fi
  while read -r key value _; do
    [ "$key" = worker ] && continue
    figure[$row.${name}_$key]=$value
  done <"$out"
}

# measure_server ROW SERVES_WORK: every run for the server that is up.
# SERVES_WORK is "yes" when the server has /work?ms=N.
measure_server() {
  local row=$1 serves_work=$2 spread_seconds=$(((seconds + 1) / 2))
  echo "bench/load/run: measuring $row on 127.0.0.1:$server_port" >&2
  figure[$row.busy_before_percent]=$(wait_for_quiet_machine)
  cpu_window_start

  # Warm-up, unrecorded: lets Node compile its hot paths before the first figure.
  timeout 20 wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$server_port/" >/dev/null 2>&1 || true

  wrk_run "$row" keepalive || return 1
  wrk_run "$row" close -H "Connection: close" || return 1
  loadgen_run "$row" spread_keepalive --connections "$connections" --duration "${spread_seconds}s" \
    --drain 500ms || return 1
  loadgen_run "$row" spread_close --close --connections "$connections" --duration "${spread_seconds}s" \
    --drain 500ms || return 1
  if [ "$serves_work" = yes ]; then
    loadgen_run "$row" skew --rate "$skew_rate" --heavy-percent "$heavy_percent" \
      --heavy-path "/work?ms=$heavy_ms" --duration "${seconds}s" --drain "$((seconds * 100))ms" || return 1
  fi
  cpu_window_end "$row"
  if ! workers_unchanged; then
    figure[$row.note]="a worker died or was replaced during the runs"
  fi
}
