#!/usr/bin/env bash
# Installs fleetgate from this checkout on a Debian 12 host: the CLIs on PATH and the systemd
# units. Run as root: deploy/install.sh agent|coordinator
set -euo pipefail
role=${1:?usage: deploy/install.sh agent|coordinator}
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/opt/fleetgate}

mkdir -p "$prefix" /etc/fleetgate
cp -a "$here/." "$prefix/"
# npm ci builds dist/ (prepare); the compiler is then pruned away.
(cd "$prefix" && npm ci && npm prune --omit=dev)
ln -sf "$prefix/bin/fleetgate-agent.js" /usr/local/bin/fleetgate-agent
ln -sf "$prefix/bin/coord.js" /usr/local/bin/coord

case "$role" in
  agent)
    [ -f /etc/fleetgate/agent.yaml ] || cp "$here/deploy/examples/agent.yaml" /etc/fleetgate/agent.yaml
    cp "$here/deploy/systemd/fleetgate-agent.service" /etc/systemd/system/
    echo "edit /etc/fleetgate/agent.yaml, put a token from 'coord token create' in /etc/fleetgate/enroll.token, then:"
    echo "  systemctl daemon-reload && systemctl enable --now fleetgate-agent"
    ;;
  coordinator)
    [ -f /etc/fleetgate/coord.yaml ] || cp "$here/deploy/examples/coord.yaml" /etc/fleetgate/coord.yaml
    cp "$here/deploy/systemd/fleetgate-coord.service" /etc/systemd/system/
    echo "then: systemctl daemon-reload && systemctl enable --now fleetgate-coord"
    ;;
  *) echo "unknown role $role (agent|coordinator)" >&2; exit 3 ;;
esac
