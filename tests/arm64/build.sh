#!/bin/bash -e
# Build, once, what the arm64 tests need and keep it between runs (needs the network and
# root; about 20 minutes the first time, seconds after):
#   CACHE/root       a Debian bookworm arm64 root (Raspberry Pi OS's base) with systemd,
#                    Debian's arm64 kernel and initrd and what the image stage installs:
#                    the user-space tests chroot into it through qemu-user (binfmt), the
#                    boot test installs the stage into a copy and boots it in
#                    qemu-system-aarch64
#   CACHE/wheels     the box's dependencies (and the clinic's: the test plugins import it)
#                    as aarch64 wheels (pip, for that platform) and the two that only
#                    come as source (pyalsaaudio, systemd-python)
#   CACHE/root/opt/kiosk   a venv made in the root from those, the two built there (the
#                    user-space tests run in it; the boot test's stage makes its own)
#   tests/arm64/build.sh PYTHON CACHE
set -u
python="$1"
cache="$2"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"

# qemu-user for aarch64 binaries, registered with the kernel (F: opened once, so a chroot
# needs no qemu of its own)
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --display qemu-aarch64 | grep -q enabled

# what the image stage installs, less what only Raspberry Pi OS has, and a bootable system
mapfile -t stage_packages < <(grep -v -x -e python3-picamera2 -e python3-lgpio -e python3-kms++ -e fonts-dejavu-core -e '' "${repo}/image/stage-kiosk/00-kiosk/00-packages")
packages=$(printf '%s\n' systemd systemd-sysv udev kmod dbus linux-image-arm64 python3 \
	python3-venv python3-dev gcc libc6-dev pkg-config libasound2-dev libsystemd-dev \
	ca-certificates "${stage_packages[@]}" | sort -u | paste -sd,)
stamp="bookworm arm64 ${packages}"
if [ "$(cat "${cache}/root.stamp" 2>/dev/null)" != "${stamp}" ]; then
	echo "arm64: debootstrap bookworm arm64 into ${cache}/root" >&2
	rm -rf "${cache:?}/root" "${cache}/root.new" "${cache}/root.stamp" "${cache}/venv.stamp"
	install -d -m 755 "${cache}"
	debootstrap --arch=arm64 --variant=minbase --include="${packages}" bookworm \
		"${cache}/root.new" http://deb.debian.org/debian > "${cache}/debootstrap.log"
	rm -rf "${cache}/root.new/var/cache/apt/archives/"*.deb
	# booted: the root file system is the virtio disk
	echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "${cache}/root.new/etc/fstab"
	echo kiosk-arm64 > "${cache}/root.new/etc/hostname"
	mv "${cache}/root.new" "${cache}/root"
	echo "${stamp}" > "${cache}/root.stamp"
fi

# the versions pip picks on this machine, as aarch64 wheels for the root's Python 3.11
# (bump the version when what follows changes how the wheels or the venv are made)
stamp="wheels-v3 $("${python}" "${repo}/tests/dependency_stamp.py" "${repo}/pyproject.toml")"
if [ "$(cat "${cache}/wheels.stamp" 2>/dev/null)" != "${stamp}" ]; then
	echo "arm64: aarch64 wheels into ${cache}/wheels" >&2
	rm -rf "${cache}/wheels" "${cache}/wheels.stamp" "${cache}/venv.stamp"
	# the root's Python is 3.11.2: redis then needs async-timeout (a marker for < 3.11.3),
	# which resolving on this machine's newer 3.11 leaves out
	"${python}" -m pip install --dry-run --ignore-installed --quiet --report "${cache}/report.json" \
		"${repo}[pi,clinic]" pytest pytest-asyncio pytest-timeout hypothesis "async-timeout>=4.0.3"
	"${python}" - "${cache}/report.json" > "${cache}/pins.txt" <<-'EOF'
		import json, sys
		for item in json.load(open(sys.argv[1]))["install"]:
		    meta = item["metadata"]
		    if meta["name"] != "clinic-kiosk":
		        print(f"{meta['name']}=={meta['version']}")
	EOF
	grep -v -i -e '^pyalsaaudio==' -e '^systemd-python==' "${cache}/pins.txt" > "${cache}/binary.txt"
	platforms=()
	for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done
	"${python}" -m pip download --quiet --no-deps --only-binary=:all: "${platforms[@]}" \
		--platform manylinux2014_aarch64 --platform linux_aarch64 --python-version 3.11 \
		--implementation cp --abi cp311 --abi abi3 --abi none \
		--dest "${cache}/wheels" --requirement "${cache}/binary.txt"
	grep -i -e '^pyalsaaudio==' -e '^systemd-python==' "${cache}/pins.txt" > "${cache}/source.txt"
	"${python}" -m pip download --quiet --no-deps --no-binary=:all: \
		--dest "${cache}/wheels" --requirement "${cache}/source.txt"
	echo "${stamp}" > "${cache}/wheels.stamp"
fi

# the venv, made and filled inside the root (the two source builds compile under qemu)
if [ "$(cat "${cache}/venv.stamp" 2>/dev/null)" != "${stamp}" ]; then
	echo "arm64: the venv in ${cache}/root/opt/kiosk" >&2
	rm -rf "${cache}/root/opt/kiosk" "${cache}/root/wheels"
	cp -r "${cache}/wheels" "${cache}/root/wheels"
	cp "${cache}/pins.txt" "${cache}/root/wheels/pins.txt"
	chroot "${cache}/root" env -i PATH=/usr/bin:/bin /usr/bin/python3 -m venv /opt/kiosk
	chroot "${cache}/root" env -i PATH=/usr/bin:/bin /opt/kiosk/bin/pip install --quiet --no-index \
		--find-links /wheels --requirement /wheels/pins.txt
	rm -rf "${cache}/root/wheels"
	echo "${stamp}" > "${cache}/venv.stamp"
fi

