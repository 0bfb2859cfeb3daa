#!/bin/busybox sh
# /init of flint's QEMU boot-test initramfs (`cargo xtask qemu-test`, `demo`, `bench --qemu`).
#
# A stand-in for a real initramfs's early boot, written with busybox for the *test* only:
# flint itself never uses busybox. It mounts the pseudo filesystems, loads the NIC drivers
# (udev would do that in a real initramfs), runs flint (or, for the benchmark, the
# kernel-stack reference) and reports over the second serial port. Fail-open: whatever the
# tool does (fails, crashes, hangs until the watchdog), the boot goes on to the end marker
# and powers off.
#
# Kernel arguments read here; flint reads its own `flint.*` arguments itself:
#   fxq.mode=flint|reference|probe   what to run (probe: report at once, for the KVM check)
#   fxq.watchdog=SECONDS             kill the tool after this long (default 120)
#   fxq.expect_exit=N                with fxq.expect_sha256=HEX|absent: FXQ:RESULT PASS|FAIL
#   fxq.show=1                       also send the written file (base64) for the demo
#   fxq.late_modules=A,B             load these modules 1 s after the tool started instead of
#                                    before it (a driver that comes late: the device appears
#                                    while flint runs); stamped "late-modules"
#   fxq.dump=DIR,DIR                 send every regular file under these directories (the
#                                    hand-offs: user.ign, the seed, the attributes) with its mode
#
# Markers (to /dev/ttyS1, which carries nothing else; one per line, "FXQ:<KEY> <value>"):
#   BEGIN, MODE, EXIT <code>, SHA256 <hex|absent>, SIZE <bytes|->, REPORT <json|absent>,
#   LOG <tool stderr line>..., KMSG <dmesg line>..., FILE <base64>...,
#   OUT <path> <octal mode> <base64 on one line>..., RESULT PASS|FAIL, END
# Timestamps come from the kernel log: each step writes "fxq: <step>" to /dev/kmsg, so the
# harness reads them on the kernel's own clock (0 = kernel start, microseconds).

/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
stamp() { echo "fxq: $1" > /dev/kmsg; }
stamp init

set -f # kernel arguments are split below, never globbed
read -r cmdline < /proc/cmdline
arg() {
	v=$2
	for a in $cmdline; do
		case "$a" in "$1="*) v=${a#*=} ;; esac
	done
	echo "$v"
}
mode=$(arg fxq.mode flint)
out=$(arg flint.output /run/flint/user-data)
watchdog=$(arg fxq.watchdog 120)
late=$(arg fxq.late_modules "")
dump=$(arg fxq.dump "")

: > /run/tool.err
rc=-
if [ "$mode" != probe ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		case ",$late," in *",${m%.ko},"*) continue ;; esac
		insmod "/lib/modules/$m" || echo "fxq-init: insmod $m failed" >> /run/tool.err
	done < /etc/modules.load
	stamp modules
	if [ -n "$late" ]; then
		(
			sleep 1
			stamp late-modules
			for m in $(echo "$late" | tr , ' '); do
				insmod "/lib/modules/$m.ko" || echo "fxq-init: insmod $m failed" >> /run/tool.err
			done
		) &
	fi
	stamp tool-start
	case "$mode" in
	flint) timeout "$watchdog" /bin/flint --report /run/report.json 2>> /run/tool.err ;;
	reference) timeout "$watchdog" /bin/sh /etc/reference.sh "$out" 2>> /run/tool.err ;;
	*) echo "fxq-init: unknown fxq.mode=$mode" >> /run/tool.err; false ;;
	esac
	rc=$?
	stamp tool-done
fi

if [ -f "$out" ]; then
	set -- $(sha256sum "$out")
	sha=$1
	size=$(wc -c < "$out")
else
	sha=absent
	size=-
fi
result=PASS
want_exit=$(arg fxq.expect_exit "")
want_sha=$(arg fxq.expect_sha256 "")
[ -z "$want_exit" ] || [ "$rc" = "$want_exit" ] || result=FAIL
[ -z "$want_sha" ] || [ "$sha" = "$want_sha" ] || result=FAIL

# For whoever watches the console.
cat /run/tool.err
echo "fxq-init: $mode exited $rc, output sha256 $sha, $result"
stamp end

# Closing the port at the end of the block waits until the UART has sent everything, so
# nothing is lost when the machine powers off right after.
{
	echo "FXQ:BEGIN"
	echo "FXQ:MODE $mode"
	echo "FXQ:EXIT $rc"
	echo "FXQ:SHA256 $sha"
	echo "FXQ:SIZE $size"
	if [ -f /run/report.json ]; then echo "FXQ:REPORT $(cat /run/report.json)"; else echo "FXQ:REPORT absent"; fi
	while IFS= read -r l; do echo "FXQ:LOG $l"; done < /run/tool.err
	dmesg | grep -e 'fxq: ' -e 'Run /init' | while IFS= read -r l; do echo "FXQ:KMSG $l"; done
	if [ "$(arg fxq.show 0)" = 1 ] && [ -f "$out" ]; then
		base64 "$out" | while IFS= read -r l; do echo "FXQ:FILE $l"; done
	fi
	for d in $(echo "$dump" | tr , ' '); do
		[ -d "$d" ] || continue
		find "$d" -type f | sort | while IFS= read -r f; do
			echo "FXQ:OUT $f $(stat -c %a "$f") $(base64 "$f" | tr -d '\n')"
		done
	done
	echo "FXQ:RESULT $result"
	echo "FXQ:END"
} > /dev/ttyS1

poweroff -f
# Not reached unless power-off failed: PID 1 exiting panics, and panic=-1 with QEMU's
# -no-reboot ends the VM as well.
sleep 5
exit 1
