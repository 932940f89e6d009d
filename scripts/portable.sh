#!/usr/bin/env bash
# make portable: the stack's core (every package but device, cmd, tests,
# examples) must build for targets without Linux or cgo, such as the hvt
# unikernel (GOOS=tamago), so that portability cannot rot unnoticed.
#
# Without the tamago compiler (TAMAGO unset) it checks the import graph: the
# core and device are listed for GOOS=wasip1, a target with neither Linux
# nor cgo (the build constraints the stack's code uses then select what a
# bare-metal target gets), and
#   - no package of that closure may be github.com/songgao/water,
#     golang.org/x/sys/unix or runtime/cgo, or use cgo;
#   - no core package may have files that only Linux builds (its Go files
#     must be the same for linux and wasip1): OS-specific code belongs in
#     device or cmd.
# With TAMAGO (the tamago-go compiler's go command) it also builds the core,
# device and the hvt guest for GOOS=tamago.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
module=$($GO list -m)
# protoactor's metrics pull in prometheus/procfs, whose statfs use needs
# syscall.Statfs; the nostatfs tag leaves it out.
tags=nostatfs

core=$($GO list ./... | grep -v -e "^$module/cmd/" -e "^$module/tests" -e "^$module/examples/" \
  -e "^$module/device" -e "^$module/internal/testhook\$")
check="$core $module/device"

fail=0
closure=$(GOOS=wasip1 GOARCH=wasm $GO list -tags "$tags" -deps \
  -f '{{.ImportPath}}{{if .CgoFiles}} (cgo){{end}}' $check)
bad=$(echo "$closure" | grep -E '^(github.com/songgao/water|golang.org/x/sys/unix|runtime/cgo)$| \(cgo\)$' || true)
if [ -n "$bad" ]; then
  echo "portable: the core reaches Linux-only or cgo packages:"
  echo "$bad" | sed 's/^/  /'
  for p in $bad; do
    GOOS=wasip1 GOARCH=wasm $GO list -tags "$tags" -deps -f '{{.ImportPath}}: {{join .Imports " "}}' $check |
      grep -E " ${p%% *}( |\$)" | cut -d: -f1 | sed "s|^|    imported by |"
  done
  fail=1
fi

for p in $core; do
  linux=$(GOOS=linux $GO list -tags "$tags" -f '{{join .GoFiles " "}}' "$p")
  other=$(GOOS=wasip1 GOARCH=wasm $GO list -tags "$tags" -f '{{join .GoFiles " "}}' "$p")
  if [ "$linux" != "$other" ]; then
    echo "portable: $p has OS-specific files (linux: $linux; elsewhere: $other); keep them in device or cmd"
    fail=1
  fi
done
[ "$fail" = 0 ] || exit 1
echo "portable: $(echo "$check" | wc -w) packages free of Linux-only imports and cgo"

# Packages of the core that do not build for GOOS=tamago, each with why;
# the root package leaves them out there (build tags), and the guest has
# no use for them.
#   apps/dhcp: its packet library's dependency github.com/u-root/uio/rand
#   has no tamago port (the root package's dhcp_tamago.go says so to a
#   caller asking for DHCP).
tamago_skip="$module/apps/dhcp"
if [ -n "${TAMAGO:-}" ]; then
  echo "portable: building the core (but $tamago_skip), device and the hvt guest for GOOS=tamago with $TAMAGO"
  GOOS=tamago GOARCH=amd64 GOOSPKG=github.com/usbarmory/tamago \
    "$TAMAGO" build -tags "$tags,linkcpuinit,linkramstart" $(echo "$check" | tr ' ' '\n' | grep -vxF "$tamago_skip") "$module/device/hvt" "$module/cmd/actnet-hvt"
  echo "portable: GOOS=tamago build ok"
else
  echo "portable: TAMAGO unset, so no GOOS=tamago build (make hvt TAMAGO=/path/to/tamago-go/bin/go; README, \"Running as a unikernel\")"
fi
