#!/bin/bash -e
# Build, once, what the nspawn tests need and keep it between runs (needs the network):
#   CACHE/root       a minimal Debian root (systemd, python3, the stage's packages)
#   CACHE/wheels     the kiosk's dependencies and build backend as wheels, so the stage's
#                    pip installs offline inside the test
#   tests/nspawn/build.sh PYTHON CACHE
set -u
python="$1"
cache="$2"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
# shellcheck source=/dev/null
suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"

# what the stage installs, less what only Raspberry Pi OS has
stage_packages=$(grep -v -x -e python3-picamera2 -e python3-lgpio -e python3-kms++ -e fonts-dejavu-core -e '' "${repo}/image/stage-kiosk/00-kiosk/00-packages" | paste -sd,)
packages="systemd,systemd-sysv,dbus,python3,ca-certificates,${stage_packages}"
stamp="${suite} ${packages}"
if [ "$(cat "${cache}/root.stamp" 2>/dev/null)" != "${stamp}" ]; then
	echo "nspawn: debootstrap ${suite} into ${cache}/root" >&2
	rm -rf "${cache}/root" "${cache}/root.stamp"
	install -d -m 755 "${cache}"
	debootstrap --variant=minbase --include="${packages}" "${suite}" "${cache}/root.new" \
		http://deb.debian.org/debian > "${cache}/debootstrap.log"
	rm -rf "${cache}/root.new/var/cache/apt/archives/"*.deb
	mv "${cache}/root.new" "${cache}/root"
	echo "${stamp}" > "${cache}/root.stamp"
fi

stamp="$("${python}" "${repo}/tests/dependency_stamp.py" "${repo}/pyproject.toml")"
if [ "$(cat "${cache}/wheels.stamp" 2>/dev/null)" != "${stamp}" ]; then
	echo "nspawn: wheels into ${cache}/wheels" >&2
	rm -rf "${cache}/wheels" "${cache}/wheels.stamp"
	"${python}" -m pip wheel --quiet --wheel-dir "${cache}/wheels" "${repo}[pi]" "setuptools>=77" wheel
	rm -f "${cache}/wheels"/clinic_kiosk-*.whl
	echo "${stamp}" > "${cache}/wheels.stamp"
fi
