#!/usr/bin/env bash
# Generates the clients of hlgate's API in clients/<language>/gen from
# proto/ and the files it imports, with clients/<language>/buf.gen.yaml
# (`make clients`). Usage: scripts/clients.sh [go] [ts] [python]; no argument
# means all three. The output is not committed (each client's .gitignore);
# the directory is removed first, so nothing stale survives a proto change.
#
# Go needs nothing but Go (the plugins are pinned in tools/go.mod). TypeScript
# needs Node.js and npm: `npm ci` installs the pinned protoc-gen-es into
# clients/ts/node_modules when package-lock.json is newer than what is
# installed. Python needs protoc and grpc_python_plugin, from the Debian
# packages protobuf-compiler and protobuf-compiler-grpc.
set -euo pipefail
cd "$(dirname "$0")/.."
buf() { go tool -modfile=tools/go.mod buf "$@"; }

need() { # need <command> <what provides it>
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "clients: $1 not found on PATH; install $2" >&2
  exit 1
}

generate() { # generate <language>
  rm -rf "clients/$1/gen"
  buf generate --template "clients/$1/buf.gen.yaml"
  echo "clients: generated clients/$1/gen" >&2
}

langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(go ts python)
for lang in "${langs[@]}"; do
  case "$lang" in
    go)
      generate go
      ;;
    ts)
      need node "Node.js 18 or newer (Debian: apt-get install nodejs npm)"
      need npm "npm (Debian: apt-get install npm)"
      if [ ! clients/ts/node_modules/.package-lock.json -nt clients/ts/package-lock.json ]; then
        (cd clients/ts && npm ci --no-audit --no-fund)
      fi
      [ -x clients/ts/node_modules/.bin/protoc-gen-es ] || {
        echo "clients: clients/ts/node_modules/.bin/protoc-gen-es missing after npm ci (npm package @bufbuild/protoc-gen-es)" >&2
        exit 1
      }
      generate ts
      ;;
    python)
      need protoc "the Debian package protobuf-compiler (apt-get install protobuf-compiler)"
      need grpc_python_plugin "the Debian package protobuf-compiler-grpc (apt-get install protobuf-compiler-grpc)"
      generate python
      ;;
    *)
      echo "clients: unknown language $lang (go, ts or python)" >&2
      exit 2
      ;;
  esac
done
