#!/usr/bin/env bash
# Debian packages that `make demo` and `make test` need, installed when missing.
#
#   scripts/prereqs.sh demo   the demo's peers: pebble, nginx
#   scripts/prereqs.sh test   everything the suite uses (the default)
#
# As root: installs what is missing, quietly (apt's output goes to a log that is shown
# only on failure), and stops the system nginx that installing nginx may have started
# on :80 -- the demo and the tests run their own nginx on free loopback ports.
# Not root: prints the exact apt-get line to run and exits 1.
# Nothing missing: prints nothing and exits 0, without touching apt.
set -euo pipefail
# debootstrap, nginx and friends live in sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

profile="${1:-test}"
missing=()

# By command where there is one, so that e.g. nginx-full also satisfies "nginx".
need_cmd() { # package command
  command -v "$2" >/dev/null 2>&1 || missing+=("$1")
}
# By package where the package has no command of its own.
need_pkg() { # package
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ] || missing+=("$1")
}

# Both profiles: the venv and the demo's peers.
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
need_cmd pebble pebble
need_cmd pebble pebble-challtestsrv
need_cmd nginx-light nginx

case "$profile" in
  demo) ;;
  test)
    need_pkg ca-certificates                 # TLS to pypi and deb.debian.org from tests
    need_cmd debootstrap debootstrap         # packaging tests build fresh Debian 12 and 13 roots
    need_cmd systemd-container systemd-nspawn  # ...and boot it
    need_cmd util-linux nsenter              # ...and drive systemctl inside it
    need_cmd procps pgrep                    # ...finding its PID 1
    need_cmd lintian lintian                 # the .deb must pass lintian
    need_pkg dpkg-dev                        # packaging/deb/build.sh
    need_cmd binutils strip                  # 0.1.0's build.sh (the upgrade test) strips its wheels
    need_cmd binutils objdump                # ...and reads their glibc symbol versions
    need_cmd systemd systemd-analyze         # the shipped units are verified offline
    need_cmd openssl openssl                 # the benchmark compares with the guide's openssl loop
    need_cmd prometheus promtool             # the alert rules pass promtool check/test rules
    ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac

[ "${#missing[@]}" -eq 0 ] && exit 0
# Unique, in order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
line="apt-get install -y --no-install-recommends ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
  echo "certkeeper's $profile needs Debian packages that are not installed. As root, run:" >&2
  echo "  $line" >&2
  echo "(or run this as root: $0 $profile)" >&2
  exit 1
fi

nginx_before=no
command -v nginx >/dev/null 2>&1 && nginx_before=yes
# prometheus is installed only for promtool; its package starts a server on :9090.
prometheus_before=no
command -v prometheus >/dev/null 2>&1 && prometheus_before=yes

log="$(mktemp "${TMPDIR:-/tmp}/certkeeper-prereqs.XXXXXX.log")"
echo "prereqs ($profile): installing ${missing[*]} (apt, quiet; log: $log)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
  echo "prereqs: apt-get failed; the last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
rm -f "$log"

# Debian starts nginx on :80 when the package is installed. The tests and the demo run their
# own nginx on free ports; stop the system one we just caused, never one that was there before.
if [ "$nginx_before" = no ] && [ -s /run/nginx.pid ]; then
  if [ -d /run/systemd/system ]; then
    systemctl stop nginx >/dev/null 2>&1 || true
  fi
  nginx -s stop >/dev/null 2>&1 || true
  echo "prereqs: stopped the system nginx that installing nginx-light started on :80"
fi
if [ "$prometheus_before" = no ] && command -v prometheus >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  pkill -x prometheus >/dev/null 2>&1 || true
  echo "prereqs: stopped the prometheus server that installing it started (only promtool is used)"
fi
echo "prereqs ($profile): done"
