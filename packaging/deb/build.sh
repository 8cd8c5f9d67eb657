#!/usr/bin/env bash
# Build certkeeper_<version>_<arch>.deb from this checkout with dpkg-deb; no debhelper needed.
#
# The Python libraries are installed into a private tree, /usr/lib/certkeeper/site, and
# run by the system python3: Debian 12 ships python3-cryptography 38, too old for the
# APIs certkeeper uses (42+). The tree is built for the python3 minor version of the
# machine that builds it, and the package depends on exactly that minor version, so
# build on (or for) the target release: Debian 12 = 3.11, Ubuntu 24.04 = 3.12.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-$top/dist}"

version="$("$PYTHON" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$top/pyproject.toml")"
arch="$(dpkg --print-architecture)"
pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
pynext="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')"

stage="$top/build/deb/certkeeper_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$OUT"

# 1. certkeeper and its pinned runtime dependencies, from a fresh wheel build of this tree.
site="$stage/usr/lib/certkeeper/site"
"$PYTHON" -m pip install --quiet --no-compile --no-warn-script-location \
    --disable-pip-version-check --target "$site" "$top"
rm -rf "$site/bin"
find "$site" -name '__pycache__' -prune -exec rm -rf {} +
find "$site" -name '*.pyc' -delete
# pip's INSTALLER/RECORD files are for pip, not for dpkg-managed trees.
find "$site" -path '*.dist-info/RECORD' -delete
find "$site" -path '*.dist-info/INSTALLER' -delete
find "$site" -path '*.dist-info/direct_url.json' -delete
# Upstream wheels ship debug symbols; Debian policy wants shared objects stripped.
find "$site" -name '*.so' -exec strip --strip-unneeded {} +
# The compiled extensions need this glibc at least (highest versioned symbol they use).
glibc="$(find "$site" -name '*.so' -exec objdump -T {} + | grep -o 'GLIBC_[0-9.]*' \
    | sed 's/GLIBC_//' | sort -V | tail -n 1)"

# 2. Files in their places.
install -D -m 0755 "$here/debian/certkeeper.wrapper" "$stage/usr/bin/certkeeper"
install -D -m 0644 "$top/examples/config.yaml" "$stage/etc/certkeeper/config.yaml"
install -d -m 0755 "$stage/etc/certkeeper/services.d"
install -d -m 0700 "$stage/var/lib/certkeeper"
install -D -m 0644 "$top/systemd/certkeeper.service" "$stage/lib/systemd/system/certkeeper.service"
install -D -m 0644 "$top/systemd/certkeeper.timer" "$stage/lib/systemd/system/certkeeper.timer"
install -D -m 0644 "$here/debian/certkeeper.cron.d" "$stage/etc/cron.d/certkeeper"
# The hook is exactly what `certkeeper install-hook` writes, so the two never drift.
hook="$stage/etc/letsencrypt/renewal-hooks/deploy/certkeeper.sh"
mkdir -p "$(dirname "$hook")"
"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); from certkeeper.hook import script_text; sys.stdout.write(script_text(["/usr/bin/certkeeper"]))' "$site" > "$hook"
find "$site" -name '__pycache__' -prune -exec rm -rf {} +
chmod 0755 "$hook"
install -D -m 0644 "$here/debian/certkeeper.1" "$stage/usr/share/man/man1/certkeeper.1"
gzip -9n "$stage/usr/share/man/man1/certkeeper.1"
doc="$stage/usr/share/doc/certkeeper"
install -D -m 0644 "$here/debian/copyright" "$doc/copyright"
install -m 0644 "$top/README.md" "$doc/README.md"
sed "s/@VERSION@/$version/" "$here/debian/changelog" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -D -m 0644 "$here/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/certkeeper"

# 3. Control files.
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
cat > "$stage/DEBIAN/conffiles" <<CONF
/etc/certkeeper/config.yaml
/etc/cron.d/certkeeper
/etc/letsencrypt/renewal-hooks/deploy/certkeeper.sh
CONF
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@PYDEPENDS@/python3 (>= $pyver~), python3 (<< $pynext), libc6 (>= ${glibc:-2.17})/" \
    "$here/debian/control.in" > "$stage/DEBIAN/control"

# Directories 0755, files 0644 unless marked executable above; all owned by root.
find "$stage" -type d -not -path "$stage/var/lib/certkeeper" -exec chmod 0755 {} +
find "$site" -type f -exec chmod 0644 {} +
deb="$OUT/certkeeper_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
