#!/usr/bin/env bash
# Installs the Debian package this checkout built (npm run package:deb) on this Debian 12 host:
#   deploy/install.sh agent|coordinator [DEB_DIR]      (as root; DEB_DIR default dist/deb)
# apt resolves the dependencies (the coordinator's nodejs 20: see the README). Nothing of the
# checkout is copied; uninstall with apt remove (keeps config and state) or apt purge.
set -euo pipefail
role=${1:?usage: deploy/install.sh agent|coordinator [DEB_DIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${2:-$here/dist/deb}

case "$role" in
  agent) package=fleetgate-agent ;;
  coordinator) package=fleetgate-coord ;;
  *) echo "unknown role $role (agent|coordinator)" >&2; exit 3 ;;
esac
shopt -s nullglob
debs=("$dir/${package}"_*.deb)
if [ ${#debs[@]} -ne 1 ]; then
  echo "expected one $dir/${package}_*.deb, found ${#debs[@]}: build it with npm run package:deb" >&2
  exit 3
fi
apt-get install -y "$(realpath "${debs[0]}")"

case "$role" in
  agent)
    echo "now: set coordinator: in /etc/fleetgate/agent.yaml, copy the coordinator's ca.crt to /etc/fleetgate/ca.crt,"
    echo "then put a token from 'coord token create' in /etc/fleetgate/enroll.token (mode 0600): the agent starts by itself"
    ;;
  coordinator)
    echo "fleetgate-coord runs; agents need /var/lib/fleetgate/tls/ca.crt and a token from: coord token create --state-dir /var/lib/fleetgate"
    ;;
esac
