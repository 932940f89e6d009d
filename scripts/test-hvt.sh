#!/usr/bin/env bash
# make test-hvt, as root: boot actnet as a Solo5 hvt guest and check it from
# Linux: first-ping time, 50 pings with 0% loss, a 1 MiB TCP echo checked by
# SHA-256, UDP echo, and a clean exit with counters (tests/hvtcheck does the
# checks). Usage: test-hvt.sh GUEST.hvt, with SOLO5_HVT set.
#
# HVT_TEST_MODE picks where the guest runs:
#   direct  solo5-hvt on this host's KVM, on a tap in a network namespace
#           made for the test and deleted afterwards;
#   vm      inside a Linux VM under QEMU's software emulation (-cpu max,
#           nested virtualisation exposed), for hosts whose KVM gives guests
#           no SSE (nested KVM on some clouds): Debian's kernel
#           (linux-image-amd64), an initramfs of busybox-static, solo5-hvt
#           and its libraries, the guest, hvtcheck and the kvm and tun
#           modules (qemu-system-x86);
#   auto    (the default) direct, then vm if the guest dies before its first
#           ping answer.
# Traffic stays inside the namespace or the VM (QEMU gets no NIC).
set -euo pipefail
cd "$(dirname "$0")/.."
guest=$(realpath "${1:?usage: test-hvt.sh GUEST.hvt}")
hvt=$(realpath "${SOLO5_HVT:?SOLO5_HVT is unset}")
GO=${GO:-go}
mode=${HVT_TEST_MODE:-auto}
guest_args="--ipv4=10.0.0.2/24 --ipv6=none --app=echo:7 --app=udp-echo:7 --app=discard:9000 --shutdown-port=9"

[ "$(id -u)" = 0 ] || { echo "test-hvt: skipped: needs root (a tap, a namespace or /dev/kvm)"; exit 0; }
work=$(mktemp -d /tmp/actnet-hvt.XXXXXX)
ns=actnet-hvt-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 $GO build -o "$work/hvtcheck" ./tests/hvtcheck
echo "test-hvt: guest $guest, $(stat -c %s "$guest") bytes; tender $hvt"
# solo5-elftool reads the notes back as solo5-hvt will (SOLO5_ELFTOOL, or
# on PATH, or beside solo5-hvt in a Solo5 build tree).
elftool=${SOLO5_ELFTOOL:-$(command -v solo5-elftool || true)}
[ -n "$elftool" ] || [ ! -x "$(dirname "$hvt")/../../elftool/solo5-elftool" ] ||
  elftool=$(dirname "$hvt")/../../elftool/solo5-elftool
if [ -n "$elftool" ]; then
  "$elftool" query-abi "$guest"
  "$elftool" query-manifest "$guest" | tr -d '\n' | grep -q '"name": *"service", *"type": *"NET_BASIC"' ||
    { echo "test-hvt: FAIL: the manifest has no NET_BASIC device service"; "$elftool" query-manifest "$guest"; exit 1; }
  echo "test-hvt: solo5-elftool accepts the ABI note and the manifest (NET_BASIC service)"
else
  echo "test-hvt: no solo5-elftool (SOLO5_ELFTOOL): the notes are checked by solo5-hvt only"
fi

run_direct() {
  [ -e /dev/kvm ] || { echo "test-hvt: no /dev/kvm"; return 3; }
  command -v ip >/dev/null || { echo "test-hvt: needs ip (iproute2)"; return 1; }
  command -v ping >/dev/null || { echo "test-hvt: needs ping (iputils-ping)"; return 1; }
  ip netns add "$ns"
  ip netns exec "$ns" "$work/hvtcheck" mktap tap0
  ip -n "$ns" addr add 10.0.0.1/24 dev tap0
  ip -n "$ns" link set tap0 up
  local rc=0
  # shellcheck disable=SC2086
  ip netns exec "$ns" "$work/hvtcheck" run -log "$work/guest.log" -- \
    "$hvt" --mem=512 --net:service=tap0 -- "$guest" $guest_args || rc=$?
  ip netns del "$ns" 2>/dev/null || true
  return $rc
}

# add_with_libs copies a dynamically linked program and the libraries it
# loads into the initramfs tree, at the same paths.
add_with_libs() {
  local root=$1 bin=$2 dst=$3
  install -D -m 0755 "$bin" "$root$dst"
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
    install -D -m 0755 "$lib" "$root$lib"
  done
}

run_vm() {
  local kernel kver busybox qemu
  qemu=$(command -v qemu-system-x86_64) || { echo "test-hvt: vm mode needs qemu-system-x86_64 (apt-get install qemu-system-x86)"; return 1; }
  kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
  [ -n "$kernel" ] || { echo "test-hvt: vm mode needs a kernel in /boot (apt-get install linux-image-amd64)"; return 1; }
  kver=${kernel#/boot/vmlinuz-}
  busybox=$(command -v busybox) || { echo "test-hvt: vm mode needs busybox (apt-get install busybox-static)"; return 1; }
  if ldd "$busybox" >/dev/null 2>&1; then
    echo "test-hvt: vm mode needs a static busybox (apt-get install busybox-static)"; return 1
  fi

  local root=$work/initramfs
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
  install -m 0755 "$busybox" "$root/bin/busybox"
  add_with_libs "$root" "$hvt" /bin/solo5-hvt
  install -m 0644 "$guest" "$root/actnet.hvt"
  install -m 0755 "$work/hvtcheck" "$root/bin/hvtcheck"
  local mods=""
  for m in kernel/virt/lib/irqbypass.ko kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko \
           kernel/arch/x86/kvm/kvm-amd.ko kernel/arch/x86/kvm/kvm-intel.ko kernel/drivers/net/tun.ko; do
    local f
    f=$(ls "/lib/modules/$kver/$m"* 2>/dev/null | head -1)
    [ -n "$f" ] || continue
    case $f in
      *.xz) xz -dc "$f" >"$root/lib/modules/$(basename "$m")" ;;
      *.zst) zstd -qdc "$f" >"$root/lib/modules/$(basename "$m")" ;;
      *) cp "$f" "$root/lib/modules/" ;;
    esac
    mods="$mods $(basename "$m")"
  done
  cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $mods; do insmod /lib/modules/\$m 2>/dev/null; done
echo "vm: kernel \$(uname -r), /dev/kvm: \$(ls /dev/kvm 2>&1)"
ip link set lo up
hvtcheck mktap tap0 && ip addr add 10.0.0.1/24 dev tap0 && ip link set tap0 up
cd /tmp
hvtcheck run -log /tmp/guest.log -- /bin/solo5-hvt --mem=512 --net:service=tap0 -- /actnet.hvt $guest_args
echo "vm: hvtcheck exit \$?"
echo "vm: guest console:"; cat /tmp/guest.log
poweroff -f
EOF
  chmod 0755 "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"
  echo "test-hvt: booting $kernel under QEMU (software emulation, -cpu max) with the guest inside"
  timeout 1200 "$qemu" -cpu max -smp 1 -m 1536 -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 quiet panic=-1 rdinit=/init" </dev/null | tee "$work/vm.log" | tr -d '\r'
  grep -q '^hvtcheck: PASS' <(tr -d '\r' <"$work/vm.log")
}

rc=0
case $mode in
  direct) run_direct || rc=$? ;;
  vm) run_vm || rc=$? ;;
  auto)
    run_direct || rc=$?
    if [ "$rc" = 3 ]; then
      echo "test-hvt: the guest did not run on this host's KVM (nested KVM without SSE?); running it inside a QEMU VM"
      rc=0
      run_vm || rc=$?
    fi
    ;;
  *) echo "test-hvt: HVT_TEST_MODE=$mode: want direct, vm or auto"; exit 2 ;;
esac
if [ "$rc" = 0 ]; then echo "test-hvt: PASS"; else echo "test-hvt: FAIL"; fi
exit $rc
