#!/bin/busybox sh
# PID 1 of the kernel-matrix guest: set up a minimal system, load overlay, run the suite, report
# on the serial console, power off. Lines starting with OVL- are read by ../kernels.mjs.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run && mount -t tmpfs -o size=1500m tmpfs /tmp && mount -t tmpfs tmpfs /run
for m in $(cat /modules.order); do insmod "/modules/$m" 2>/dev/null; done
echo "OVL-KERNEL $(uname -r)"
grep -q overlay /proc/filesystems && echo "OVL-OVERLAY yes" || echo "OVL-OVERLAY no"
cd /ovl
OVL_SCRATCH=/tmp OVL_RUN_DIR=/run/ovl node --test --test-reporter=tap test/vm/guest/ 2>&1
echo "OVL-EXIT $?"
dmesg | grep -E 'overlay(fs)?:' | tail -n 20 | sed 's/^/OVL-DMESG /'
poweroff -f
