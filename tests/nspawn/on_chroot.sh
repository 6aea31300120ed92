# shellcheck shell=bash
# pi-gen's on_chroot for the test: run stdin as a script inside ROOTFS_DIR, with pip fed
# from the prebuilt wheels (WHEELS) instead of the network.
on_chroot() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	unshare -m --propagation private bash -e -c '
		mount --bind "${WHEELS}" "${ROOTFS_DIR}/wheels"
		mount -t proc proc "${ROOTFS_DIR}/proc"
		exec chroot "${ROOTFS_DIR}" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels /bin/bash -e "$@"
	' on_chroot "$@"
}
