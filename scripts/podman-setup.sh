#!/bin/sh
# Installs and configures podman on Debian 12 the way chatd's container build and test need
# it, for a machine without a Docker engine (a CI runner, a VM, a developer box).
#
#   scripts/podman-setup.sh            install + configure + make the base image
#   scripts/podman-setup.sh --check    only report what is missing (exit 1 if anything is)
#
# Non-interactive and idempotent: every step is skipped when already done. Runs as root
# (or through sudo). Steps:
#   1. apt packages: podman, runc, uidmap, slirp4netns, fuse-overlayfs, netavark,
#      aardvark-dns, iptables, catatonit, debootstrap;
#   2. /etc/containers/containers.conf: runtime runc, cgroupfs (no systemd needed), file
#      event log, default ulimits nofile=20000 nproc=32768 (an SSE server holds one
#      descriptor per open stream);
#   3. the base image docker.io/library/debian:bookworm-slim, when podman does not have it:
#      pulled when a registry is reachable (CHATD_BASE_PULL=1), otherwise built with
#      debootstrap --variant=minbase from the Debian mirror, trimmed like the official
#      slim image and imported under that name, so `podman build --pull=never` works
#      offline from a Debian mirror alone.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR
# (default http://deb.debian.org/debian-security), BASE_IMAGE (default
# docker.io/library/debian:bookworm-slim), CHATD_BASE_PULL=1 to try `podman pull` first.
set -eu

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECMIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
BASE_IMAGE="${BASE_IMAGE:-docker.io/library/debian:bookworm-slim}"
SUITE=bookworm
CONF=/etc/containers/containers.conf
MARK="# managed by chatd scripts/podman-setup.sh"
PKGS="podman runc uidmap slirp4netns fuse-overlayfs netavark aardvark-dns iptables catatonit debootstrap"

CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

say() { printf 'podman-setup: %s\n' "$*"; }
die() { printf 'podman-setup: error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "run as root (sudo not found)"
    exec sudo -E "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
[ -r /etc/debian_version ] || die "this script is for Debian 12 (bookworm)"

missing_pkgs() {
    out=""
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    printf '%s' "$out"
}

conf_text() {
    cat <<EOF
$MARK
# Rootful podman on a host that may not run systemd as PID 1 and may use cgroup v1.
[containers]
# An SSE server holds one file descriptor per open stream; podman's default (1048576 or the
# host's limit) is fine too, but make it explicit and equal everywhere.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
# journald may not run here; keep podman's event log in a file.
events_logger = "file"
EOF
}

# ---- --check: report only --------------------------------------------------------------
if [ "$CHECK" = 1 ]; then
    bad=0
    m="$(missing_pkgs)"
    if [ -n "$m" ]; then say "missing packages:$m"; bad=1; else say "packages: ok"; fi
    if [ -f "$CONF" ] && [ "$(conf_text)" = "$(cat "$CONF")" ]; then say "$CONF: ok"
    else say "$CONF: not configured"; bad=1; fi
    if command -v podman >/dev/null 2>&1 && podman image exists "$BASE_IMAGE" 2>/dev/null; then
        say "$BASE_IMAGE: present"
    else say "$BASE_IMAGE: missing"; bad=1; fi
    exit "$bad"
fi

# ---- 1. packages -----------------------------------------------------------------------
m="$(missing_pkgs)"
if [ -n "$m" ]; then
    say "installing:$m"
    apt-get update -q
    # --no-install-recommends: no buildah, no dbus/systemd user session; podman builds
    # images itself.
    # shellcheck disable=SC2086 # a list of package names
    apt-get install -y -q --no-install-recommends $m
else
    say "packages: already installed"
fi

# ---- 2. containers.conf ----------------------------------------------------------------
mkdir -p /etc/containers
if [ -f "$CONF" ] && [ "$(conf_text)" = "$(cat "$CONF")" ]; then
    say "$CONF: already configured"
else
    if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
        cp -p "$CONF" "$CONF.orig"
        say "saved the previous $CONF as $CONF.orig"
    fi
    conf_text > "$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    say "$CONF: written"
fi

podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Store.GraphDriverName}}' \
    >/dev/null 2>&1 || die "podman info failed: run 'podman info' to see why"
say "podman: $(podman --version | sed 's/^podman version //'), runtime/cgroups/storage:" \
    "$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Store.GraphDriverName}}')"

# ---- 3. base image ---------------------------------------------------------------------
if podman image exists "$BASE_IMAGE"; then
    say "$BASE_IMAGE: already present"
    exit 0
fi
if [ "${CHATD_BASE_PULL:-0}" = 1 ] && podman pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE: pulled"
    exit 0
fi

say "$BASE_IMAGE: building it with debootstrap --variant=minbase $SUITE $MIRROR"
work="$(mktemp -d /var/tmp/chatd-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/rootfs"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap failed"
}

# Make it behave like the official slim image: deb822 sources with updates and security,
# no docs/man/locales installed by later apt-get runs, apt caches cleaned after installs.
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECMIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
# As in the official image: no fsync per unpacked file (a throw-away build layer does not
# need it; apt-get install runs several times faster), compressed package lists.
echo 'force-unsafe-io' > "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
echo 'Acquire::GzipIndexes "true";' > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' \
    > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
cat > "$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
# Policy: no service starts inside an image build.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# debootstrap installs the suite as released; add the -updates and -security fixes
# the official image carries.
chroot "$root" sh -c 'apt-get update -q && apt-get -y -q upgrade && apt-get clean' \
    >> "$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "apt-get upgrade in the base image failed"; }
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"* \
       "$root/usr/share/groff/"* "$root/usr/share/lintian/"* \
       "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb \
       "$root/var/lib/apt/lists/"* "$root/var/log/"*.log "$root/var/log/apt/"* \
       "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old
: > "$root/etc/resolv.conf"
: > "$root/etc/machine-id" 2>/dev/null || true

tar --numeric-owner --xattrs -C "$root" -cf "$work/rootfs.tar" .
podman import -q --change 'CMD ["bash"]' "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
say "$BASE_IMAGE: imported ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
