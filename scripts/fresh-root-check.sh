#!/usr/bin/env bash
# Prove README's promise: on a fresh Debian 12, `apt-get install make git python3-venv`,
# then `make demo` and `make test` work from a fresh clone with no other set-up.
#
#   sudo scripts/fresh-root-check.sh ROOTDIR [TARGET...]     (TARGETs default: demo test)
#
# Debootstraps a minbase bookworm into ROOTDIR (which must not exist yet), installs only
# make, git and python3-venv, clones this checkout's committed HEAD into /root/certkeeper,
# and runs `make TARGET` for each TARGET as root in a chroot with /proc, /sys (and its
# cgroup tree), /dev and a tmpfs /run mounted. Each target's output goes to
# ROOTDIR.TARGET.log, and a summary with times and pytest's counts is printed at the end.
# Everything is unmounted and ROOTDIR removed afterwards, also on failure or Ctrl-C; set
# KEEP_ROOT=1 to keep ROOTDIR for a look (still unmounted). Uncommitted changes are NOT
# part of the check: commit first.
#
# Takes about 2 min for `demo` and 10-15 min for `test` on a 2-core machine. Needs root,
# debootstrap and network access to the Debian mirror and PyPI.
set -euo pipefail

usage() { echo "usage: sudo $0 ROOTDIR [TARGET...]   (TARGETs default: demo test)" >&2; exit 2; }
[ $# -ge 1 ] || usage
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || export PATH="$PATH:/usr/sbin:/sbin"
command -v debootstrap >/dev/null || { echo "$0: apt-get install debootstrap" >&2; exit 1; }

src="$(cd "$(dirname "$0")/.." && pwd)"
root="$1"
shift
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(demo test)
mirror="${CERTKEEPER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ -e "$root" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
  echo "$0: $root exists and is not empty; give a new path" >&2
  exit 2
fi
mkdir -p "$root"
root="$(cd "$root" && pwd)"

mounted=()
mnt() { # mount args... TARGET(last)
  mount "$@"
  mounted+=("${!#}")
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  # Processes still running inside the root (a system nginx apt started, a stuck test):
  # theirs is the only root pointing into ROOTDIR, so nothing else is touched.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    case "$(readlink "/proc/$pid/root" 2>/dev/null)" in
      "$root" | "$root"/*) kill -KILL "$pid" 2>/dev/null || true ;;
    esac
  done
  sleep 0.5
  # Unmount in reverse; -R takes nested mounts (tests mount inside their own roots) too.
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" 2>/dev/null || true
  done
  if grep -qF " $root/" /proc/self/mounts || grep -qF " $root " /proc/self/mounts; then
    echo "fresh-root-check: mounts remain under $root; NOT removing it:" >&2
    grep -F " $root" /proc/self/mounts >&2 || true
    exit "${rc:-1}"
  fi
  if [ "${KEEP_ROOT:-0}" = 1 ]; then
    echo "fresh-root-check: kept $root (nothing mounted)"
  else
    rm -rf --one-file-system "$root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== fresh-root-check: $*"; }
root_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
  LANG=C.UTF-8 TERM=dumb)
in_root() {
  env -i "${root_env[@]}" chroot "$root" "$@"
}

started=$SECONDS
step "debootstrap --variant=minbase bookworm $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
  || { tail -n 30 "$root.debootstrap.log" >&2; exit 1; }
rm -f "$root.debootstrap.log"

# The root must be a mount point of its own: systemd-nspawn, run by the packaging tests inside
# it, fails with "Failed to mount n/a (type n/a) on / (MS_REC|MS_SLAVE)" in a plain chroot.
mnt --bind "$root" "$root"
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
# systemd-nspawn (packaging tests) needs the cgroup tree, which a fresh sysfs lacks.
if [ -d /sys/fs/cgroup ] && [ -d "$root/sys/fs/cgroup" ]; then
  mnt --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
fi
mnt --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mnt -t tmpfs -o mode=0755 tmpfs "$root/run"
cp /etc/resolv.conf "$root/etc/resolv.conf"

packages=(make git python3-venv)
# A network whose egress intercepts TLS (as on this project's build machines) makes pip fail
# with "self-signed certificate in certificate chain" unless its CA is trusted; a fresh Debian
# on that network needs the same. So the host's local CAs go into the root's store, and pip
# (bookworm's pip 23 reads its own certifi bundle, not the system store) is pointed at it.
shopt -s nullglob
local_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
if [ "${#local_cas[@]}" -gt 0 ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp "${local_cas[@]}" "$root/usr/local/share/ca-certificates/"
  packages+=(ca-certificates)
  root_env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  step "the host's local CAs (${local_cas[*]##*/}) are trusted in the root, for pip"
fi

step "apt-get install ${packages[*]} (what README asks of a fresh Debian)"
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${packages[@]}" >"$root.apt.log" 2>&1 || { tail -n 30 "$root.apt.log" >&2; exit 1; }
rm -f "$root.apt.log"

step "git clone of $src ($(git -C "$src" rev-parse --short HEAD)) into /root/certkeeper"
git clone --quiet --no-hardlinks "$src" "$root/root/certkeeper"
git -C "$root/root/certkeeper" checkout --quiet "$(git -C "$src" rev-parse HEAD)"

summary=()
status=0
for target in "${targets[@]}"; do
  log="$root.$target.log"
  step "make $target (output: $log)"
  t0=$SECONDS
  if in_root bash -c "cd /root/certkeeper && make $target" >"$log" 2>&1; then
    result=PASS
  else
    result=FAIL
    status=1
  fi
  counts="$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//' || true)"
  summary+=("make $target: $result in $((SECONDS - t0)) s ${counts:+(pytest: $counts)}")
  if [ "$result" = FAIL ]; then tail -n 40 "$log"; fi
done

step "summary ($((SECONDS - started)) s in all)"
printf '  %s\n' "${summary[@]}"
exit "$status"
