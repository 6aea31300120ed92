#!/bin/bash
# Runs inside the booted test container (kiosk-check.service); writes its findings to
# /results for the test, then powers the container off.
set -u
out=/results
# one line: |Key=value|Key=value| (StatusText has spaces)
show() {
	echo "|$(systemctl show -p ActiveState,SubState,MainPID,NRestarts,Result,StatusText kiosk.service | paste -sd'|')|"
}
trap 'systemctl poweroff --no-block' EXIT

systemctl is-system-running --wait > "${out}/boot.txt" 2>&1

# a fresh start, watched from the outside: states as systemd sees them
systemctl stop kiosk.service
systemctl start --no-block kiosk.service
for _ in $(seq 600); do
	state="$(show)"
	echo "$(date +%s.%N) ${state}" >> "${out}/states.txt"
	[[ "${state}" == *"|ActiveState=active|"* ]] && break
	sleep 0.02
done
KIOSK_STATE_DIR=/var/lib/kiosk /opt/kiosk/bin/kiosk status --json > "${out}/kiosk-status.json" 2>&1
systemctl show -p ExecMainStartTimestampMonotonic,ActiveEnterTimestampMonotonic kiosk.service > "${out}/timestamps.txt"
for _ in $(seq 100); do
	[ -f /var/lib/kiosk/kiosk-enroll.toml.error ] && break
	sleep 0.1
done
{
	echo "boot: $(ls /boot/firmware)"
	stat -c '%U %G %a %n' /var/lib/kiosk/kiosk-enroll.toml
	cat /var/lib/kiosk/kiosk-enroll.toml.error
} > "${out}/enrollment.txt" 2>&1
SYSTEMD_COLORS=0 systemctl status --no-pager --lines=0 kiosk.service > "${out}/status.txt" 2>&1

# the unit's sandbox (seccomp, namespaces) around what the daemon imports at its first call
systemctl start kiosk-imports.service
systemctl show -p Result kiosk-imports.service > "${out}/imports.txt"

# a blocked loop stops the watchdog pings: systemd kills and restarts the daemon
KIOSK_STATE_DIR=/var/lib/kiosk /opt/kiosk/bin/kiosk fake loop freeze > "${out}/freeze.txt" 2>&1
for _ in $(seq 300); do
	state="$(show)"
	[[ "${state}" == *"|ActiveState=active|"* && "${state}" != *"|NRestarts=0|"* ]] && break
	sleep 0.1
done
show > "${out}/after-freeze.txt"
journalctl --no-pager -u kiosk.service -o json > "${out}/journal.json"
touch "${out}/done"
