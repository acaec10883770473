#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (PostgreSQL, VictoriaMetrics,
# Prometheus, Alertmanager, Chromium), only those missing, so a fresh machine with Go passes
# `make test`. Needs root or sudo; apt-get update runs only when something is missing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have victoria-metrics || need+=(victoria-metrics)
have prometheus && have promtool || need+=(prometheus)
have chromium || need+=(chromium)
have prometheus-alertmanager || need+=(prometheus-alertmanager)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  have sudo || { echo "install-test-deps: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages start their own services; tests start private instances instead.
for svc in postgresql victoria-metrics prometheus prometheus-alertmanager; do
  $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
  $sudo service "$svc" stop >/dev/null 2>&1 || true
done
