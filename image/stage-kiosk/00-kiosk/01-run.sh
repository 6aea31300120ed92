#!/bin/bash -e
# pi-gen: install the kiosk daemon into the image and enable it.
# Runs on the build host from this directory; `on_chroot` runs a script inside the image.
# Safe to run again on the same image. No secrets: a box enrolls at first boot from
# /boot/firmware/kiosk-enroll.toml, written onto the SD card after flashing.
set -u

wheels=(files/clinic_kiosk-*.whl)
if [ ! -f "${wheels[0]}" ] || [ ! -f files/kiosk.service ] || [ ! -f files/kiosk.toml ]; then
	echo "stage-kiosk: no wheel, unit or kiosk.toml in files/; run image/prepare.sh first" >&2
	exit 1
fi

install -d -m 755 "${ROOTFS_DIR}/opt/kiosk-dist"
rm -f "${ROOTFS_DIR}"/opt/kiosk-dist/clinic_kiosk-*.whl
install -m 644 "${wheels[@]}" "${ROOTFS_DIR}/opt/kiosk-dist/"
install -m 644 files/kiosk.service "${ROOTFS_DIR}/etc/systemd/system/kiosk.service"
# the settings file the unit names; a re-run keeps local edits
install -d -m 755 "${ROOTFS_DIR}/etc/kiosk"
[ -f "${ROOTFS_DIR}/etc/kiosk/kiosk.toml" ] || install -m 644 files/kiosk.toml "${ROOTFS_DIR}/etc/kiosk/kiosk.toml"

on_chroot << 'CHROOT'
set -eu
getent group gpio > /dev/null || groupadd --system gpio
id -u kiosk > /dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/kiosk \
	--no-create-home --shell /usr/sbin/nologin kiosk
usermod --append --groups video,audio,gpio kiosk
# picamera2 comes from the OS (python3-picamera2): the venv sees the system packages
[ -x /opt/kiosk/bin/python ] || python3 -m venv --system-site-packages /opt/kiosk
wheel=$(ls /opt/kiosk-dist/clinic_kiosk-*.whl)
/opt/kiosk/bin/pip install --quiet --upgrade "${wheel}[pi]"
systemctl enable kiosk.service
CHROOT
