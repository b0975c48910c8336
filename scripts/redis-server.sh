#!/usr/bin/env bash
# A local Redis for the shared crawl frontier (`complaintwatch crawl --frontier`),
# for tests and development, bound to 127.0.0.1.
#
#   scripts/redis-server.sh start    # start (or reuse), wait for PONG, print the URL
#   scripts/redis-server.sh stop     # stop it (SIGTERM: Redis syncs its append-only file; SIGKILL after 30 s)
#   scripts/redis-server.sh status   # print the URL and exit 0 when up, exit 3 when not
#   scripts/redis-server.sh url      # print the URL of the running server (exit 3 when not running)
#
# Debian's redis-server (apt-get install redis-server). The append-only file is
# on, so a stopped or killed server comes back with the queue as it was.
#
# Environment:
#   COMPLAINTWATCH_REDIS_HOME  folder for data, log, pid and url
#                              (default: redis-server in the state folder, ${COMPLAINTWATCH_STATE_DIR:-<repo>/.complaintwatch})
#   COMPLAINTWATCH_REDIS_PORT  port to try first (default 6379; a free one is used if taken)
#   COMPLAINTWATCH_REDIS_WAIT  seconds to wait for it to answer (default 30)
#
# start is idempotent (a running server is reused) and serialised with flock,
# so parallel callers share one server. The URL is also written to $COMPLAINTWATCH_REDIS_HOME/url.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${COMPLAINTWATCH_STATE_DIR:-$HERE/../.complaintwatch}"
WORK="${COMPLAINTWATCH_REDIS_HOME:-$STATE/redis-server}"
PORT="${COMPLAINTWATCH_REDIS_PORT:-6379}"
WAIT="${COMPLAINTWATCH_REDIS_WAIT:-30}"

log() { echo "redis-server: $*" >&2; }

mkdir -p "$WORK/data"
WORK="$(cd "$WORK" && pwd)" # absolute: redis-server chdirs into its data dir
PIDFILE="$WORK/server.pid"
URLFILE="$WORK/url"
LOG="$WORK/server.log"

# -- helpers --------------------------------------------------------------
pid_alive() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  # alive, and still a redis-server (not a recycled pid after a reboot)
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" == redis-server* ]]
}

# pong PORT -> exit 0 when Redis answers PING (bash's /dev/tcp: no redis-cli needed)
pong() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || reply=""
  exec 3<&- 3>&-
  [[ "$reply" == "+PONG"* ]]
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local py
  py="$(command -v python3 || command -v python)"
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_of() { sed -n 's|^redis://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$URLFILE" 2>/dev/null; }

running_url() {
  pid_alive && [[ -f "$URLFILE" ]] && pong "$(port_of)" 2>/dev/null && cat "$URLFILE"
}

do_start() {
  local url port pid
  if url="$(running_url)"; then
    echo "$url"
    return 0
  fi
  if pid_alive; then
    log "a previous server (pid $(cat "$PIDFILE")) does not answer; stopping it"
    do_stop
  fi
  command -v redis-server >/dev/null || { log "redis-server not found: install it (Debian: apt-get install redis-server)"; exit 1; }
  port="$PORT"
  if port_in_use "$port"; then
    port="$(free_port)"
    log "port $PORT is taken; using $port"
  fi
  url="redis://127.0.0.1:$port/0"
  log "starting Redis on $url (data: $WORK/data, log: $LOG)"
  # setsid: own session, so it outlives the caller's shell; 9>&-: it must not hold the lock.
  # appendonly: every write goes to the append-only file, so a restart keeps the queue.
  setsid redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
    --dir "$WORK/data" --appendonly yes --appendfsync everysec --save "" \
    --daemonize no --logfile "$LOG" >>"$LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$url" >"$URLFILE"
  local deadline=$((SECONDS + WAIT))
  until pong "$port" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "the server did not come up; last lines of $LOG:"
      tail -n 20 "$LOG" >&2 || true
      do_stop
      exit 1
    fi
    sleep 0.1
  done
  log "up (pid $pid)"
  echo "$url"
}

# -- main -----------------------------------------------------------------
# shellcheck source=lib/serverctl.sh
. "$HERE/lib/serverctl.sh"
server_main "$@"
