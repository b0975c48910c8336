# Shared by scripts/redis-server.sh and scripts/search-server.sh (sourced, not run):
# stopping a server and the command line. The caller defines log, pid_alive,
# running_url and do_start, and sets WORK, PIDFILE and URLFILE.

# SIGTERM, up to 30 s to exit (Redis syncs its append-only file, Elasticsearch
# closes its shards), then SIGKILL
do_stop() {
  if pid_alive; then
    local pid
    pid="$(cat "$PIDFILE")"
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE" "$URLFILE"
}

# start|stop|restart (serialised with flock: parallel callers share one server), status|url
server_main() {
  local cmd="${1:-}" url
  case "$cmd" in
    start | stop | restart)
      exec 9>"$WORK/lock"
      flock 9
      case "$cmd" in
        start) do_start ;;
        stop) do_stop ;;
        restart) do_stop; do_start ;;
      esac
      ;;
    status | url)
      if url="$(running_url)"; then
        echo "$url"
      else
        [[ "$cmd" == status ]] && log "not running"
        exit 3
      fi
      ;;
    *)
      echo "usage: $0 start|stop|restart|status|url" >&2
      exit 2
      ;;
  esac
}
