#!/bin/bash
# Runs inside the booted test container (kiosk-check.service); writes its findings to
# /results for the test, then powers the container off.
set -u
out=/results
# how many times slower than a PC this machine is (an emulated CPU: 10 or more)
slow="${CHECK_SLOWNESS:-1}"
# one line: |Key=value|Key=value| (StatusText has spaces)
show() {
	echo "|$(systemctl show -p ActiveState,SubState,MainPID,NRestarts,Result,StatusText kiosk.service | paste -sd'|')|"
}
trap 'systemctl poweroff --no-block' EXIT

systemctl is-system-running --wait > "${out}/boot.txt" 2>&1
uname -m > "${out}/machine.txt"

# a fresh start, watched from the outside: states as systemd sees them
systemctl stop kiosk.service
systemctl start --no-block kiosk.service
for _ in $(seq $((600 * slow))); do
	state="$(show)"
	echo "$(date +%s.%N) ${state}" >> "${out}/states.txt"
	[[ "${state}" == *"|ActiveState=active|"* ]] && break
	sleep 0.02
done
KIOSK_STATE_DIR=/var/lib/kiosk /opt/kiosk/bin/kiosk status --json > "${out}/kiosk-status.json" 2>&1
# its niceness (field 19 of stat; the command's name has no space)
cut -d' ' -f19 "/proc/$(systemctl show -p MainPID --value kiosk.service)/stat" > "${out}/nice.txt"
systemctl show -p ExecMainStartTimestampMonotonic,ActiveEnterTimestampMonotonic kiosk.service > "${out}/timestamps.txt"
for _ in $(seq $((100 * slow))); do
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
for _ in $(seq $((300 * slow))); do
	state="$(show)"
	[[ "${state}" == *"|ActiveState=active|"* && "${state}" != *"|NRestarts=0|"* ]] && break
	sleep 0.1
done
show > "${out}/after-freeze.txt"

# a bad SD card: the state directory full, then read-only; the daemon must stay up
storage_case() {  # $1: name, $2: mount options after filling
	systemctl stop kiosk.service
	umount /var/lib/kiosk 2>/dev/null
	mount -t tmpfs -o "size=256k,uid=$(id -u kiosk),gid=$(id -g kiosk),mode=0700" tmpfs /var/lib/kiosk
	printf 'code = "1234567812345678"\nclinic_url = "http://127.0.0.1:9"\n' > /var/lib/kiosk/kiosk-enroll.toml
	chown kiosk:kiosk /var/lib/kiosk/kiosk-enroll.toml
	chmod 0600 /var/lib/kiosk/kiosk-enroll.toml
	dd if=/dev/zero of=/var/lib/kiosk/filler bs=4k 2>/dev/null
	[ -n "$2" ] && mount -o "remount,$2" /var/lib/kiosk
	local before
	before="$(show)"
	systemctl start kiosk.service
	for _ in $(seq $((100 * slow))); do
		KIOSK_STATE_DIR=/var/lib/kiosk /opt/kiosk/bin/kiosk status --json > "${out}/$1-status.json" 2>&1
		grep -q '"storage_problem": {' "${out}/$1-status.json" && break
		sleep 0.1
	done
	sleep $((3 * slow))  # long enough for a crash loop to show in NRestarts
	KIOSK_STATE_DIR=/var/lib/kiosk /opt/kiosk/bin/kiosk status --json > "${out}/$1-status.json" 2>&1
	{ echo "${before}"; show; } > "${out}/$1-states.txt"
}
storage_case full ""
storage_case readonly ro
systemctl stop kiosk.service
umount /var/lib/kiosk
journalctl --no-pager -u kiosk.service -o json > "${out}/journal.json"
touch "${out}/done"
