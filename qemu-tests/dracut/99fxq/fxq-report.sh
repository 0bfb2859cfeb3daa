#!/bin/bash
# Test only (qemu-tests/dracut/99fxq): what flint and Ignition did in this dracut initramfs,
# as FXQ: markers on ttyS1 (qemu-tests/README.md), then an immediate power-off.
# $1: dracut (normal path) or emergency (emergency.target was isolated); fwcfg-probe (run by
# fxq-fwcfg.service just before flint) only notes whether qemu_fw_cfg's directory is there.

if [ "$1" = fwcfg-probe ]; then
	if [ -d /sys/firmware/qemu_fw_cfg/by_name ]; then echo present; else echo absent; fi > /run/fxq-fwcfg
	exit 0
fi

unit() { # unit name -> "KEY=value ..." of the properties the harness checks
	systemctl show -p ActiveState,Result,ExecMainCode,ExecMainStatus \
		-p ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic "$1" | tr '\n' ' '
}
sha() { # file -> sha256 or "absent"
	if [ -f "$1" ]; then sha256sum "$1" | { read -r h _; echo "$h"; }; else echo absent; fi
}

{
	echo "FXQ:BEGIN"
	echo "FXQ:MODE $1"
	echo "FXQ:UNIT flint $(unit flint.service)"
	echo "FXQ:UNIT fetch-offline $(unit ignition-fetch-offline.service)"
	echo "FXQ:UNIT fetch $(unit ignition-fetch.service)"
	echo "FXQ:EXIT $(systemctl show -P ExecMainStatus flint.service)"
	echo "FXQ:SHA256 $(sha /usr/lib/ignition/user.ign)"
	echo "FXQ:SHA256_RUN $(sha /run/ignition/user.ign)"
	if [ -e /run/ignition/neednet ]; then echo "FXQ:NEEDNET present"; else echo "FXQ:NEEDNET absent"; fi
	echo "FXQ:IGNITION_ENV $(tr '\n' ' ' 2>/dev/null < /run/ignition.env)"
	echo "FXQ:FWCFG_AT_FLINT_START $(cat /run/fxq-fwcfg 2>/dev/null || echo unknown)"
	mods=""
	while read -r name _; do mods="$mods $name"; done < /proc/modules
	echo "FXQ:MODULES$mods"
	if [ -f /run/flint/report.json ]; then echo "FXQ:REPORT $(cat /run/flint/report.json)"; else echo "FXQ:REPORT absent"; fi
	# The kernel's own network state after flint: flint's address lives only in its own
	# stack, so no IPv4 address but loopback's and no route may be here.
	ip -4 -o addr show | while IFS= read -r l; do echo "FXQ:ADDR $l"; done
	ip -o link show | while IFS= read -r l; do echo "FXQ:LINK $l"; done
	tail -n +2 /proc/net/route | while IFS= read -r l; do echo "FXQ:ROUTE $l"; done
	journalctl -b -o cat _SYSTEMD_UNIT=flint.service | while IFS= read -r l; do echo "FXQ:LOG $l"; done
	journalctl -b -o cat -u ignition-fetch-offline.service | while IFS= read -r l; do echo "FXQ:IGNLOG $l"; done
	if [ -f /run/ignition.json ]; then
		base64 -w 0 /run/ignition.json | { IFS= read -r l; echo "FXQ:CACHE $l"; }
	else
		echo "FXQ:CACHE absent"
	fi
	echo "FXQ:END"
} > /dev/ttyS1
# Closing the port above waits until the UART has sent everything; then power off at
# once (no unit stops: nothing here needs an orderly shutdown).
systemctl poweroff --force --force
