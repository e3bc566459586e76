#!/usr/bin/env bash
# Fails when the committed generated code in shared/gen differs from what `buf generate` makes now.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx --no-install buf lint
npx --no-install buf generate --output "$tmp"
if ! diff -ru shared/gen "$tmp/shared/gen"; then
  echo "gen:check: shared/gen is stale; run 'npm run gen' and commit the result" >&2
  exit 1
fi
echo "gen:check: shared/gen matches proto/"
