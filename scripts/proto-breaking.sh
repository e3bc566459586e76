#!/usr/bin/env bash
# Fails when proto/ breaks the wire of an earlier state (buf breaking, FILE rules in buf.yaml):
# agents of the previous release must still be understood (issue 15, part 8). Compared against,
# in order: the latest v* tag before HEAD (the previous release), else the merge base with
# origin/main when HEAD is off it (a branch), else HEAD~1 (main itself: each commit against the one
# before). PROTO_BASE=<commit-ish> overrides. Needs history: CI clones the repo in full.
set -euo pipefail
cd "$(dirname "$0")/.."

base="${PROTO_BASE:-}"
why="PROTO_BASE"
if [ -z "$base" ] && git rev-parse -q --verify HEAD~1 >/dev/null; then
  if base=$(git describe --tags --abbrev=0 --match 'v*' HEAD~1 2>/dev/null); then
    why="latest release tag"
  elif git rev-parse -q --verify origin/main >/dev/null && [ "$(git merge-base HEAD origin/main)" != "$(git rev-parse HEAD)" ]; then
    base=$(git merge-base HEAD origin/main)
    why="merge base with origin/main"
  else
    base=HEAD~1
    why="the commit before HEAD"
  fi
fi
if [ -z "$base" ]; then
  echo "proto:breaking: nothing to compare against (a single commit and no PROTO_BASE)"
  exit 0
fi
sha=$(git rev-parse --verify "$base^{commit}")
if [ -z "$(git ls-tree -d "$sha" proto)" ]; then
  echo "proto:breaking: $base ($why) has no proto/; nothing to compare"
  exit 0
fi
# buf clones the repo at that commit and compares its modules (its buf.yaml) with ours (the working tree).
npx --no-install buf breaking --against ".git#ref=$sha"
echo "proto:breaking: proto/ keeps the wire of $base ($why, ${sha:0:7})"
