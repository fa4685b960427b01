#!/usr/bin/env bash
# Builds a Vagrant libvirt box of Debian with debootstrap, offline-ready for ovl's suite: Node.js
# (the host's nodejs package, copied), an npm cache holding the project's locked dependencies, and
# the test tools. Run by test/vm/vagrant.mjs inside `unshare -m`, so every mount (and the loop
# device, auto-cleared) goes away with this script, even if it is killed.
# usage: vagrant-box.sh OUT_DIR MIRROR SUITE NPM_CACHE
set -euo pipefail
out=$1 mirror=$2 suite=$3 npm_cache=$4
work=$out/build
rm -rf "$work" && mkdir -p "$work/mnt"
disk=$work/disk.raw mnt=$work/mnt

truncate -s 8G "$disk"
printf 'label: dos\n,,L,*\n' | sfdisk -q "$disk"
read -r start size < <(sfdisk -d "$disk" | sed -n 's/.*start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p')
# The host kernel may lack a partition parser, so the partition is reached by offset, not by p1.
mkfs.ext4 -q -F -O ^64bit -L ovlroot -E offset=$((start * 512)) "$disk" $((size / 2))k
mount -o loop,offset=$((start * 512)),sizelimit=$((size * 512)) "$disk" "$mnt"

debootstrap --variant=minbase \
  --include=systemd-sysv,udev,openssh-server,sudo,linux-image-cloud-amd64,initramfs-tools,iproute2,netbase,ca-certificates,kmod,rsync,attr,tmux,xz-utils,procps \
  "$suite" "$mnt" "$mirror"

echo ovl-box > "$mnt/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 ovl-box\n' > "$mnt/etc/hosts"
echo 'LABEL=ovlroot / ext4 errors=remount-ro 0 1' > "$mnt/etc/fstab"
mkdir -p "$mnt/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' > "$mnt/etc/systemd/network/10-dhcp.network"
chroot "$mnt" systemctl enable systemd-networkd >/dev/null 2>&1

# The vagrant user with Vagrant's published insecure key, as every public box has.
chroot "$mnt" useradd -m -s /bin/bash vagrant
echo vagrant:vagrant | chroot "$mnt" chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$mnt/etc/sudoers.d/vagrant" && chmod 0440 "$mnt/etc/sudoers.d/vagrant"
install -d -m 0700 "$mnt/home/vagrant/.ssh"
cat /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub > "$mnt/home/vagrant/.ssh/authorized_keys"
chmod 0600 "$mnt/home/vagrant/.ssh/authorized_keys"
chroot "$mnt" chown -R vagrant:vagrant /home/vagrant/.ssh
echo 'UseDNS no' > "$mnt/etc/ssh/sshd_config.d/vagrant.conf"

# Node.js: the files of the host's nodejs package (same Debian release, so the same libc).
# (Listed paths that dpkg's path-excludes kept off this host are skipped; symlinks are copied as links.)
dpkg -L nodejs | while read -r f; do
  if [ -L "$f" ] || { [ -e "$f" ] && [ ! -d "$f" ]; }; then printf '%s\n' "${f#/}"; fi
done | tar -C / --no-recursion -cf - -T - | tar -C "$mnt" -xf -
# npm as it is now on the host (it may have been updated after the package was installed).
npm_dir=$(npm root -g)/npm
rm -rf "${mnt:?}$npm_dir" && mkdir -p "$mnt$(dirname "$npm_dir")" && cp -a "$npm_dir" "$mnt$npm_dir"
# The project's locked dependencies, so `npm ci --offline` works in a VM without a network.
mkdir -p "$mnt/var/cache/ovl-npm" && cp -a "$npm_cache/." "$mnt/var/cache/ovl-npm/"
mkdir -p "$mnt/usr/etc" && echo 'cache=/var/cache/ovl-npm' >> "$mnt/usr/etc/npmrc"

kernel=$(cd "$mnt/boot" && ls vmlinuz-* | head -1)
initrd=$(cd "$mnt/boot" && ls initrd.img-* | head -1)
mkdir -p "$mnt/boot/extlinux"
cat > "$mnt/boot/extlinux/extlinux.conf" <<CONF
DEFAULT debian
TIMEOUT 1
LABEL debian
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=LABEL=ovlroot rw console=ttyS0 quiet
CONF
extlinux --install "$mnt/boot/extlinux" 2>/dev/null
cp "$mnt/boot/$kernel" "$out/vmlinuz"   # for the harness's KVM probe
chroot "$mnt" apt-get clean
umount "$mnt"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none

qemu-img convert -O qcow2 "$disk" "$work/box.img"
echo '{"provider":"libvirt","format":"qcow2","virtual_size":8}' > "$work/metadata.json"
printf 'Vagrant.configure("2") do |config|\nend\n' > "$work/Vagrantfile"
tar -C "$work" -cf "$out/box.tmp" metadata.json Vagrantfile box.img
mv "$out/box.tmp" "$out/ovl.box"
rm -rf "$work"
