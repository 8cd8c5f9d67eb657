#!/usr/bin/env bash
# Build certkeeper_<version>_all.deb from this checkout with dpkg-deb; no debhelper needed.
#
# One Architecture: all package for Debian 12, Debian 13 and Ubuntu 24.04: certkeeper's
# own modules in a private folder, /usr/share/certkeeper, run by the system python3 on
# the distribution's python3-click, python3-cryptography, python3-yaml and
# python3-structlog, so their security updates come from apt (docs/packaging.md).
# The floors in Depends are the oldest versions `make floor` tests against.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-$top/dist}"

version="$("$PYTHON" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$top/pyproject.toml")"

# The package's version is pyproject's; debian/changelog must have its entry on top.
if ! head -n 1 "$here/debian/changelog" | grep -qF "certkeeper ($version)"; then
    echo "build.sh: debian/changelog's first entry is not certkeeper ($version)" >&2
    exit 1
fi

# A private staging folder: two builds at once (parallel test workers) never share one.
work="$(mktemp -d "${TMPDIR:-/tmp}/certkeeper-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/certkeeper_${version}_all"
mkdir -p "$stage/DEBIAN" "$OUT"

# 1. certkeeper's modules, as they are in src/ (pure Python; postinst byte-compiles them).
private="$stage/usr/share/certkeeper"
mkdir -p "$private"
(cd "$top/src" && find certkeeper -name '*.py' -o -name py.typed) | sort | while read -r f; do
    install -D -m 0644 "$top/src/$f" "$private/$f"
done

# 2. Files in their places.
install -D -m 0755 "$here/debian/certkeeper.wrapper" "$stage/usr/bin/certkeeper"
install -D -m 0755 "$here/debian/certkeeper.rtupdate" \
    "$stage/usr/share/python3/runtime.d/certkeeper.rtupdate"
install -D -m 0644 "$top/examples/config.yaml" "$stage/etc/certkeeper/config.yaml"
install -d -m 0755 "$stage/etc/certkeeper/services.d"
install -d -m 0700 "$stage/var/lib/certkeeper"
install -D -m 0644 "$top/systemd/certkeeper.service" "$stage/lib/systemd/system/certkeeper.service"
install -D -m 0644 "$top/systemd/certkeeper.timer" "$stage/lib/systemd/system/certkeeper.timer"
install -D -m 0644 "$here/debian/certkeeper.cron.d" "$stage/etc/cron.d/certkeeper"
# The hook is exactly what `certkeeper install-hook` writes, so the two never drift.
hook="$stage/etc/letsencrypt/renewal-hooks/deploy/certkeeper.sh"
mkdir -p "$(dirname "$hook")"
"$PYTHON" -B -c 'import sys; sys.path.insert(0, sys.argv[1]); from certkeeper.hook import script_text; sys.stdout.write(script_text(["/usr/bin/certkeeper"]))' "$private" > "$hook"
chmod 0755 "$hook"
install -D -m 0644 "$here/debian/certkeeper.1" "$stage/usr/share/man/man1/certkeeper.1"
gzip -9n "$stage/usr/share/man/man1/certkeeper.1"
doc="$stage/usr/share/doc/certkeeper"
install -D -m 0644 "$here/debian/copyright" "$doc/copyright"
install -m 0644 "$top/README.md" "$doc/README.md"
gzip -9nc "$here/debian/changelog" > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -D -m 0644 "$here/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/certkeeper"

# 3. Control files.
for script in preinst postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
cat > "$stage/DEBIAN/conffiles" <<CONF
/etc/certkeeper/config.yaml
/etc/cron.d/certkeeper
/etc/letsencrypt/renewal-hooks/deploy/certkeeper.sh
CONF
# What `dpkg --verify` checks the installed files against.
(cd "$stage" && find . -type f -not -path './DEBIAN/*' -printf '%P\0' | sort -z \
    | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$here/debian/control.in" > "$stage/DEBIAN/control"

# Directories 0755, files 0644 unless marked executable above; all owned by root.
find "$stage" -type d -not -path "$stage/var/lib/certkeeper" -exec chmod 0755 {} +
deb="$OUT/certkeeper_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
