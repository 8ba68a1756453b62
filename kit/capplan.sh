#!/usr/bin/env bash
# capplan from this kit (the bundled JS file, with the kit's Node.js when it has one): ./capplan.sh report out-*/results
KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$KIT/node/bin/node"
[ -x "$NODE" ] || NODE=node
exec "$NODE" "$KIT/capplan/bin/capplan.mjs" "$@"
