#!/usr/bin/env bash
# Makes sure the Debian packages the Python client needs are installed: the
# compilers `make clients` runs (protoc, grpc_python_plugin) and the runtime
# the example imports (grpc, google.protobuf in the system python3). Installs
# them with apt-get when running as root on a Debian-like machine; otherwise
# says what to do. (Go needs nothing more; TypeScript needs Node.js and npm,
# checked by `make test-e2e`.)
set -euo pipefail
pkgs=(protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf)
have() {
  command -v protoc >/dev/null 2>&1 && command -v grpc_python_plugin >/dev/null 2>&1 &&
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1
}
if have; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "protoc, grpc_python_plugin or Python's grpc/protobuf not found: installing ${pkgs[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
  have && exit 0
fi
cat >&2 <<MSG
The Python client needs protoc, grpc_python_plugin and the system python3's
grpc and protobuf modules, and they were not all found. Install them, then
run the command again:
  sudo apt-get install ${pkgs[*]}      (Debian, Ubuntu)
MSG
exit 1
