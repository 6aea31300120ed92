#!/bin/bash -e
# pi-gen: this stage builds on the root file system of the stage before it.
set -u
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
