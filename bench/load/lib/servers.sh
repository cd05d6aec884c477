# shellcheck shell=bash
# Starting and stopping the measured servers, for bench/load/run (sourced).
# Every server listens on 127.0.0.1 only. A start_* function sets:
#   server_pid   the process to stop: band's master, nginx's master, Node's
#                primary, PM2's daemon or the bare server's parent
#   server_port  the port it listens on
# and returns non-zero, with the reason in skip_reason, when the server
# cannot start.

server_pid=""
server_port=""
server_kind=""      # "pm2": stopped with `pm2 kill`; anything else with SIGTERM
server_workers=""   # "PID:STARTTIME ..." of its workers, to kill any left behind
skip_reason=""

# How long a server may take to start, and to stop after SIGTERM before SIGKILL.
readonly start_timeout_s=15
readonly stop_timeout_s=12

# Prints the start time of a process (field 22 of /proc/PID/stat), which
# distinguishes it from a later process that reuses its pid.
start_time_of() {
  awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null
}

# Succeeds when the process is gone or a zombie.
process_gone() {
  local state
  state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 0
  [ -z "$state" ] || [ "$state" = Z ]
}

children_of() {
  ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '
}

# Prints the port of the first `listening on 127.0.0.1:PORT` line in a log,
# waiting while `pid` runs, for at most start_timeout_s.
read_listen_port() {
  local log=$1 pid=$2 port deadline=$((SECONDS + start_timeout_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    process_gone "$pid" && return 1
    sleep 0.05
  done
  return 1
}

# Sends one GET / and succeeds when it returns 200.
probe_root() {
  local report
  report=$("$loadgen" --target "127.0.0.1:$server_port" --connections 1 --max-requests 1 --duration 2s \
    --drain 1s 2>/dev/null) || return 1
  grep -qx 'responses 1' <<<"$report" && grep -qx 'non_2xx 0' <<<"$report"
}

# Waits until server_pid has `workers` children and GET / returns 200, for
# at most start_timeout_s, then remembers the workers.
wait_until_serving() {
  local deadline=$((SECONDS + start_timeout_s)) count pid
  while [ "$SECONDS" -lt "$deadline" ]; do
    if process_gone "$server_pid"; then
      skip_reason="the server exited during start-up"
      return 1
    fi
    count=$(children_of "$server_pid" | wc -l)
    if [ "$count" -ge "$workers" ] && probe_root; then
      server_workers=""
      for pid in $(children_of "$server_pid"); do
        server_workers+="$pid:$(start_time_of "$pid") "
      done
      return 0
    fi
    sleep 0.1
  done
  skip_reason="no $workers workers serving GET / within ${start_timeout_s}s"
  return 1
}

# Succeeds when every worker remembered at start still runs: a worker that
# died during a run would make its figures those of a restarted server.
workers_unchanged() {
  local entry
  for entry in $server_workers; do
    [ "$(start_time_of "${entry%%:*}")" = "${entry#*:}" ] || return 1
  done
}

# start_logging_server LOG COMMAND...: starts a server that logs
# `listening on 127.0.0.1:PORT` to standard error, as band,
# bench-load-bare and node/server.js do, on port 0.
start_logging_server() {
  local log=$1
  shift
  server_kind=signal
  : >"$log"
  "$@" 2>"$log" &
  server_pid=$!
  server_port=$(read_listen_port "$log" "$server_pid") || {
    skip_reason="no listen line: $(tail -n 1 "$log")"
    return 1
  }
  wait_until_serving
}

# start_band STRATEGY: a --balance value, or built-in for a binary without it.
start_band() {
  local balance=()
  [ "$1" = built-in ] || balance=(--balance "$1")
  start_logging_server "$tmp/band-$1.log" "$band" --listen 127.0.0.1:0 --workers "$workers" "${balance[@]}"
}

start_bare() {
  start_logging_server "$tmp/bare.log" "$bare" --listen 127.0.0.1:0 --workers "$workers"
}

# start_bare_on_band STRATEGY
start_bare_on_band() {
  start_logging_server "$tmp/bare-on-band-$1.log" "$bare_on_band" --listen 127.0.0.1:0 --workers "$workers" \
    --balance "$1"
}

# start_node rr|none
start_node() {
  start_logging_server "$tmp/node-$1.log" env NODE_CLUSTER_SCHED_POLICY="$1" \
    node "$here/node/server.js" --listen 127.0.0.1:0 --workers "$workers"
}

# Writes the nginx configuration for a prefix directory and a port.
write_nginx_config() {
  local prefix=$1 port=$2 user_line=""
  # As root, nginx's workers would switch to the build's default user;
  # keep them as the current user like every other server here.
  [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
  cat >"$prefix/nginx.conf" <<CONF
$user_line
worker_processes $workers;
daemon off;
master_process on;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  default_type text/plain;
  # nginx closes a keep-alive connection after 1000 requests by default;
  # the other servers never do.
  keepalive_requests 1000000;
  client_body_temp_path $prefix/client_body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  server {
    listen 127.0.0.1:$port;
    location / {
      add_header X-Worker-Pid \$pid always;
      return 200 "ok\n";
    }
  }
}
CONF
}

start_nginx() {
  local prefix=$tmp/nginx
  mkdir -p "$prefix"
  server_kind=signal
  server_port=$("$loadgen" --free-port)
  write_nginx_config "$prefix" "$server_port"
  nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" 2>"$prefix/stderr.log" &
  server_pid=$!
  wait_until_serving || {
    skip_reason+=": $(tail -n 1 "$prefix/error.log" 2>/dev/null)"
    return 1
  }
}

# run_pm2 SECONDS ARGUMENTS: runs the pm2 command line, for at most SECONDS,
# with its own PM2_HOME under $tmp. PM2 7.0.4 requests its latest version
# from version.pm2.io the first time a PM2_HOME is used, unless the file
# "touch" exists there, and its daemon repeats that every 24 hours unless
# PM2_DISABLE_VERSION_CHECK is set. Both are set here, so that this
# benchmark sends nothing off the machine.
run_pm2() {
  local limit=$1
  shift
  if [ ! -e "$tmp/pm2/touch" ]; then
    mkdir -p "$tmp/pm2"
    : >"$tmp/pm2/touch"
  fi
  timeout "$limit" env -u NODE_CLUSTER_SCHED_POLICY PM2_HOME="$tmp/pm2" PM2_DISABLE_VERSION_CHECK=true \
    PM2_NO_INTERACTION=true "$pm2" "$@"
}

start_pm2() {
  local log=$tmp/pm2.log
  server_kind=pm2
  server_port=$("$loadgen" --free-port)
  if ! run_pm2 60 start "$here/node/server.js" --name bench-load -i "$workers" \
    -- --listen "127.0.0.1:$server_port" --workers "$workers" >"$log" 2>&1; then
    skip_reason="pm2 start failed: $(tail -n 1 "$log")"
    server_pid=$(cat "$tmp/pm2/pm2.pid" 2>/dev/null || true)
    return 1
  fi
  server_pid=$(cat "$tmp/pm2/pm2.pid")
  wait_until_serving
}

# Stops the current server, then kills, by pid, any worker it left behind.
stop_server() {
  local entry pid deadline=$((SECONDS + stop_timeout_s))
  if [ "$server_kind" = pm2 ]; then
    run_pm2 "$stop_timeout_s" kill >>"$tmp/pm2.log" 2>&1 || true
  elif [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ]; then
    while ! process_gone "$server_pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    if ! process_gone "$server_pid"; then
      echo "bench/load/run: pid $server_pid still runs ${stop_timeout_s}s after the stop; sending SIGKILL" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    # Reaps it when it is this script's child (every server but PM2's daemon).
    wait "$server_pid" 2>/dev/null || true
  fi
  for entry in $server_workers; do
    pid=${entry%%:*}
    if [ "$(start_time_of "$pid")" = "${entry#*:}" ] && ! process_gone "$pid"; then
      echo "bench/load/run: worker pid $pid outlived its server; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  server_pid=""
  server_kind=""
  server_workers=""
}
