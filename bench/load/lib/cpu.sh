# shellcheck shell=bash
# CPU time accounting for bench/load/run (sourced), in clock ticks. The
# benchmark shares its cores with whatever else runs on the machine, so it
# waits for a quiet machine before each server and estimates how much CPU
# other processes took during the server's runs.

clock_ticks=$(getconf CLK_TCK)
readonly clock_ticks
# A machine is quiet when it is busy less than this share of its CPU time.
readonly quiet_percent=15

# User, nice and system ticks of all CPUs since boot. Interrupt and softirq
# time is left out, because the kernel charges loopback traffic there
# rather than to the processes that cause it.
busy_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4; exit }' /proc/stat
}

# Prints "PID TICKS" for a process and each of its live children (the
# workers): the user and system ticks each has used since it started.
process_ticks() {
  local pid ticks
  for pid in "$1" $(children_of "$1"); do
    ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || continue
    echo "$pid ${ticks:-0}"
  done
}

# User and system ticks of a process and its live children.
tree_ticks() {
  process_ticks "$1" | awk '{ total += $2 } END { print total + 0 }'
}

# server_cpu BEFORE AFTER: prints "TOTAL BUSIEST", the ticks the server's
# processes used between two process_ticks listings, in all and by the
# busiest one. A process missing from BEFORE counts from its start.
server_cpu() {
  awk 'FNR == NR { before[$1] = $2; next }
       { used = $2 - before[$1]; total += used; if (used > busiest) busiest = used }
       END { print total + 0, busiest + 0 }' "$1" "$2"
}

# Sets tool_ticks to the user and system ticks of the children this shell
# has reaped (wrk, bench-load-gen and the text tools), from the `times`
# builtin. Call it directly, never in $(...): a subshell's `times` counts
# only the subshell's own children.
read_tool_ticks() {
  times >"$tmp/times"
  tool_ticks=$(tail -n 1 "$tmp/times" | awk -v hz="$clock_ticks" '
    function seconds(text,   minutes) {
      minutes = text; sub(/m.*/, "", minutes)
      sub(/^[0-9]+m/, "", text); sub(/s$/, "", text)
      return minutes * 60 + text
    }
    { printf "%.0f", (seconds($1) + seconds($2)) * hz }')
}

# Waits, at most quiet_wait_s, until the machine is busy less than
# quiet_percent of its CPU time over one second. Prints the last share.
wait_for_quiet_machine() {
  local deadline=$((SECONDS + quiet_wait_s)) before after percent announced=""
  while :; do
    before=$(busy_ticks)
    sleep 1
    after=$(busy_ticks)
    percent=$(((after - before) * 100 / (clock_ticks * $(nproc))))
    if [ "$percent" -lt "$quiet_percent" ] || [ "$SECONDS" -ge "$deadline" ]; then
      echo "$percent"
      return
    fi
    if [ -z "$announced" ]; then
      echo "bench/load/run: the machine is ${percent}% busy; waiting up to ${quiet_wait_s}s for it to drop below ${quiet_percent}%" >&2
      announced=yes
    fi
  done
}

# cpu_window_start and cpu_window_end ROW go around a server's runs. The end
# stores ROW.other_cpu_percent: the share of the machine's CPU time that
# neither the server nor this script's tools used.
cpu_window_start() {
  window_busy=$(busy_ticks)
  window_server=$(tree_ticks "$server_pid")
  read_tool_ticks
  window_tools=$tool_ticks
  window_started=$EPOCHREALTIME
}

cpu_window_end() {
  local row=$1 busy server tools
  busy=$(($(busy_ticks) - window_busy))
  server=$(($(tree_ticks "$server_pid") - window_server))
  read_tool_ticks
  tools=$((tool_ticks - window_tools))
  figure[$row.other_cpu_percent]=$(awk -v other=$((busy - server - tools)) -v start="$window_started" \
    -v end="$EPOCHREALTIME" -v hz="$clock_ticks" -v cores="$(nproc)" \
    'BEGIN { share = other * 100 / ((end - start) * hz * cores); printf "%.0f", share < 0 ? 0 : share }')
}
