#!/usr/bin/env bash
# Checks the fleet's Prometheus files with promtool (Debian: apt-get install
# prometheus): the scrape configuration, the alerting rules and their tests.
# Called by .ci/run; runnable by hand from any directory.
set -euo pipefail

DEPLOY_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
command -v promtool >/dev/null || {
    echo "check-prometheus-rules: promtool not found (apt-get install prometheus)" >&2
    exit 1
}
cd "$DEPLOY_DIR"
promtool check config prometheus.yml
promtool check rules prometheus-alerts.yml
promtool test rules prometheus-alerts.test.yml
