#!/usr/bin/env bash
# Installs the Debian packages the local stack runs (only those missing), and checks for Go.
# Called by `make system-deps`; needs root (or sudo) for apt-get.
set -euo pipefail

declare -A need=(
  [redis-server]=redis-server
  [prometheus]=prometheus
  [promtool]=prometheus
  [java]=openjdk-17-jre-headless
  [mvn]=maven
)
missing=()
for program in "${!need[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${need[$program]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The model registry server is built with Go from the Go module proxy; Debian's Go is too old.
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "Go >= 1.24 is needed to build the Kubeflow Model Registry server: install it from go.dev" >&2
  exit 1
fi
