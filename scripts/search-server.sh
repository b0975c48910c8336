#!/usr/bin/env bash
# A local single-node Elasticsearch 8 for tests and development, bound to 127.0.0.1.
#
#   scripts/search-server.sh start    # build (first time), start, wait for yellow/green, print the URL
#   scripts/search-server.sh stop     # stop it (SIGTERM, then SIGKILL after 30 s)
#   scripts/search-server.sh status   # print the URL and exit 0 when up, exit 3 when not
#   scripts/search-server.sh url      # print the URL of the running server (exit 3 when not running)
#
# Everything comes from Maven Central through Maven (cached in ~/.m2): the
# Elasticsearch server jar, its netty4 transport plugin and a tiny launcher in
# scripts/search-server/. Needs Java 17+ and Maven 3.8+ (Debian: openjdk-17-jdk-headless maven).
#
# Environment:
#   COMPLAINTWATCH_SEARCH_HOME  state folder: build, data, log, pid, url
#                               (default ${XDG_CACHE_HOME:-~/.cache}/complaintwatch/search-server)
#   COMPLAINTWATCH_SEARCH_PORT  HTTP port to try first (default 9200; a free one is used if taken)
#   COMPLAINTWATCH_SEARCH_HEAP  max heap (default 1g; the minimum is 512m)
#   COMPLAINTWATCH_SEARCH_WAIT  seconds to wait for the cluster to come up (default 180)
#
# start is idempotent (a running server is reused) and serialised with flock,
# so parallel callers share one server. The URL is also written to $COMPLAINTWATCH_SEARCH_HOME/url.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$HERE/search-server"
WORK="${COMPLAINTWATCH_SEARCH_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/complaintwatch/search-server}"
PORT="${COMPLAINTWATCH_SEARCH_PORT:-9200}"
HEAP="${COMPLAINTWATCH_SEARCH_HEAP:-1g}"
WAIT="${COMPLAINTWATCH_SEARCH_WAIT:-180}"
PIDFILE="$WORK/server.pid"
URLFILE="$WORK/url"
LOG="$WORK/server.log"
PY="$(command -v python3 || command -v python)"

log() { echo "search-server: $*" >&2; }

mkdir -p "$WORK"

# -- helpers --------------------------------------------------------------
pid_alive() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  # alive, and still our node (not a recycled pid after a reboot)
  # (ps -ww: ps cuts the command line to $COLUMNS, which pytest sets to 80, and a cut
  # line read as "not our node": stop then dropped the pid file and left the node running)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    [[ "$(ps -ww -p "$pid" -o args= 2>/dev/null || true)" == *complaintwatch.search.Launcher* ]]; then
    return 0
  fi
  adopt_orphan
}

# A node on our data folder whose pid/url files were lost (a killed caller, a
# cleaned state folder) still holds the data lock: adopt it rather than start
# a second node that cannot get the lock.
adopt_orphan() {
  local pid port
  pid="$(pgrep -f "complaintwatch\.search\.Launcher $WORK/home " | head -n 1 || true)"
  [[ -n "$pid" ]] || return 1
  port="$(ps -ww -p "$pid" -o args= | sed -n "s|.*complaintwatch\.search\.Launcher $WORK/home \([0-9]*\).*|\1|p")"
  [[ -n "$port" ]] || return 1
  echo "$pid" >"$PIDFILE"
  echo "http://127.0.0.1:$port" >"$URLFILE"
  log "adopted the running server (pid $pid, port $port)"
}

# healthy URL -> exit 0 when the cluster answers yellow or green
healthy() {
  "$PY" - "$1" <<'EOF' >/dev/null 2>&1
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5) as r:
    sys.exit(0 if json.load(r).get("status") in ("green", "yellow") else 1)
EOF
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

running_url() {
  pid_alive && [[ -f "$URLFILE" ]] && healthy "$(cat "$URLFILE")" && cat "$URLFILE"
}

build_stamp() {
  # rebuild when the pom or the launcher sources change
  (cat "$PROJECT/pom.xml"; find "$PROJECT/src" -type f -name '*.java' | sort | xargs cat) | sha256sum | cut -c1-16
}

build() {
  local stamp
  stamp="$(build_stamp)"
  if [[ -f "$WORK/build.stamp" && "$(cat "$WORK/build.stamp")" == "$stamp" && -d "$WORK/target/lib" ]]; then
    return 0
  fi
  command -v java >/dev/null || { log "java not found: install Java 17+ (Debian: openjdk-17-jdk-headless)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn not found: install Maven 3.8+ (Debian: maven)"; exit 1; }
  log "building the launcher (downloads Elasticsearch jars from Maven Central into ~/.m2 the first time)"
  rm -rf "$WORK/target"
  if ! mvn -B -Dstyle.color=never -f "$PROJECT/pom.xml" -Dcw.work="$WORK" package >"$WORK/build.log" 2>&1; then
    log "the Maven build failed; last lines of $WORK/build.log:"
    tail -n 40 "$WORK/build.log" >&2
    exit 1
  fi
  echo "$stamp" >"$WORK/build.stamp"
}

do_start() {
  local url pid port
  if url="$(running_url)"; then
    echo "$url"
    return 0
  fi
  if pid_alive; then
    # started earlier and still coming up, or wedged: give it the normal wait
    url="$(cat "$URLFILE" 2>/dev/null || true)"
    if [[ -n "$url" ]] && wait_healthy "$url" "$(cat "$PIDFILE")"; then
      echo "$url"
      return 0
    fi
    log "a previous server (pid $(cat "$PIDFILE")) is not healthy; stopping it"
    do_stop
  fi
  build
  port="$PORT"
  if port_in_use "$port"; then
    port="$(free_port)"
    log "port $PORT is taken; using $port"
  fi
  url="http://127.0.0.1:$port"
  mkdir -p "$WORK/home" "$WORK/tmp"
  log "starting Elasticsearch on $url (log: $LOG)"
  # setsid: own session, so it outlives the caller's shell; 9>&-: it must not hold the lock
  setsid java -Xms512m "-Xmx$HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -Dfile.encoding=UTF-8 -Djava.io.tmpdir="$WORK/tmp" -Dlog4j2.disable.jmx=true \
    -Djava.awt.headless=true -Des.networkaddress.cache.ttl=60 \
    -cp "$WORK/target/classes:$WORK/target/lib/*" complaintwatch.search.Launcher "$WORK/home" "$port" \
    >"$LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$url" >"$URLFILE"
  if ! wait_healthy "$url" "$pid"; then
    log "the server did not come up; last lines of $LOG:"
    tail -n 40 "$LOG" >&2 || true
    do_stop
    exit 1
  fi
  log "up (pid $pid)"
  echo "$url"
}

# wait_healthy URL PID
wait_healthy() {
  local deadline=$((SECONDS + WAIT))
  while ((SECONDS < deadline)); do
    kill -0 "$2" 2>/dev/null || return 1
    healthy "$1" && return 0
    sleep 1
  done
  return 1
}

# -- main -----------------------------------------------------------------
# shellcheck source=lib/serverctl.sh
. "$HERE/lib/serverctl.sh"
server_main "$@"
