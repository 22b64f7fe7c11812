#!/usr/bin/env bash
# Makes sure redis-server is installed: the tests start their own servers
# with it on free ports. Installs it with apt-get when running as root on a
# Debian-like machine; otherwise says what to do.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1 && exit 0
fi
cat >&2 <<'MSG'
redis-server is required by the tests and was not found.
Install it, then run the command again:
  sudo apt-get install redis-server      (Debian, Ubuntu)
The tests start their own redis-server on free ports; nothing needs to run.
MSG
exit 1
