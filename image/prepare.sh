#!/bin/bash -e
# Put what stage-kiosk installs into its files/ folder: the kiosk wheel, the unit and
# the default settings file.
#   image/prepare.sh [STAGE_DIR]     (default: image/stage-kiosk beside this script)
set -u
here="$(cd "$(dirname "$0")" && pwd)"
stage="${1:-${here}/stage-kiosk}"
files="${stage}/00-kiosk/files"
install -d -m 755 "${files}"
rm -f "${files}"/clinic_kiosk-*.whl
python3 -m pip wheel --quiet --no-deps --wheel-dir "${files}" "${here}/.."
install -m 644 "${here}/../systemd/kiosk.service" "${files}/kiosk.service"
install -m 644 "${here}/../systemd/kiosk.toml" "${files}/kiosk.toml"
echo "${files}"
