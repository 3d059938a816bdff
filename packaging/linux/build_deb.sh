#!/usr/bin/env bash
# Build the Debian/Ubuntu package from the PyInstaller bundle.
#
#   packaging/linux/build_deb.sh [BUNDLE_DIR] [OUT_DIR]     (defaults: dist/XRayDesk, dist)
#   -> OUT_DIR/xraydesk_<version>_<arch>.deb
#
# Installs:
#   /opt/xraydesk/                          the one-folder bundle (XRayDesk + _internal/)
#   /usr/bin/xraydesk                       launcher script (GUI, or: xraydesk self-test | predict ...)
#   /usr/share/applications/xraydesk.desktop    menu entry, "Open with" for PNG/JPEG/TIFF/BMP/DICOM
#   /usr/share/mime/packages/xraydesk.xml   application/dicom: *.dcm, *.dicom and "DICM" at offset 128
#   /usr/share/icons/hicolor/{48x48,256x256,scalable}/apps/xraydesk.{png,svg}
#   /usr/share/doc/xraydesk/                copyright, credits
# Needs dpkg-deb (and objdump from binutils to compute the glibc requirement).
# XRAYDESK_DEB_COMPRESSION=none|gzip|xz|zstd (default xz: ~60 MB, about 1.5 min on 2 cores;
# tests use none).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUNDLE="$(cd "${1:-$ROOT/dist/XRayDesk}" && pwd)"
OUT="${2:-$ROOT/dist}"
ICONS="$ROOT/resources/icons"

[ -x "$BUNDLE/XRayDesk" ] || { echo "error: $BUNDLE/XRayDesk not found; run: pyinstaller --noconfirm build.spec" >&2; exit 2; }
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n 1)"
[ -n "$VERSION" ] || { echo "error: no version in pyproject.toml" >&2; exit 2; }
ARCH="$(dpkg --print-architecture)"

# The newest glibc symbol version any bundled binary needs: the bundle runs on systems with at
# least that glibc (the build machine's, in practice), so say so instead of failing at start.
glibc_needed() {
    find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
        xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1
}
LIBC="libc6"
if command -v objdump >/dev/null 2>&1; then
    v="$(glibc_needed || true)"
    [ -n "$v" ] && LIBC="libc6 (>= $v)"
fi

# What the bundled Qt (xcb platform plugin, QtGui/QtCore, print support) links from the system:
# `readelf -d` NEEDED entries of the bundle that are not in it (build.spec leaves the desktop's
# own libraries out on purpose). Qt 6 no longer links libxcb-xinerama. "t64" alternatives are
# the package names after the 64-bit time_t transition (Debian 13, Ubuntu 24.04).
DEPENDS="$LIBC, libgl1, libegl1, libfontconfig1, libfreetype6, libdbus-1-3,
 libglib2.0-0t64 | libglib2.0-0, libx11-6, libx11-xcb1, libxcb1, libxcb-cursor0, libxcb-glx0,
 libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render0, libxcb-render-util0,
 libxcb-shape0, libxcb-shm0, libxcb-sync1, libxcb-util1, libxcb-xfixes0, libxcb-xkb1,
 libxkbcommon0, libxkbcommon-x11-0, libcups2t64 | libcups2"
# GTK only for the optional native GTK theme/dialog plugin; without it Qt draws its own.
RECOMMENDS="libgtk-3-0t64 | libgtk-3-0, shared-mime-info, desktop-file-utils, hicolor-icon-theme"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/xraydesk"
mkdir -p "$PKG/DEBIAN" "$PKG/opt/xraydesk" "$PKG/usr/bin" "$PKG/usr/share/applications" \
    "$PKG/usr/share/mime/packages" "$PKG/usr/share/doc/xraydesk" \
    "$PKG/usr/share/icons/hicolor/48x48/apps" "$PKG/usr/share/icons/hicolor/256x256/apps" \
    "$PKG/usr/share/icons/hicolor/scalable/apps"

cp -a "$BUNDLE/." "$PKG/opt/xraydesk/"
install -m 0755 "$HERE/xraydesk.sh" "$PKG/usr/bin/xraydesk"
install -m 0644 "$HERE/xraydesk.desktop" "$PKG/usr/share/applications/xraydesk.desktop"
install -m 0644 "$HERE/xraydesk-mime.xml" "$PKG/usr/share/mime/packages/xraydesk.xml"
install -m 0644 "$ICONS/xraydesk-48.png" "$PKG/usr/share/icons/hicolor/48x48/apps/xraydesk.png"
install -m 0644 "$ICONS/xraydesk.png" "$PKG/usr/share/icons/hicolor/256x256/apps/xraydesk.png"
install -m 0644 "$ICONS/xraydesk.svg" "$PKG/usr/share/icons/hicolor/scalable/apps/xraydesk.svg"
install -m 0644 "$ROOT/resources/CREDITS.md" "$PKG/usr/share/doc/xraydesk/CREDITS.md"
cat > "$PKG/usr/share/doc/xraydesk/copyright" <<COPYRIGHT
XRayDesk $VERSION - proprietary; see the licence that came with your copy.
Bundled third-party software (Python, Qt for Python/PySide6 under LGPLv3, ONNX Runtime (MIT),
NumPy, Pillow, pydicom, pylibjpeg and its plug-ins, CharLS, OpenJPEG, libjpeg, OpenBLAS)
keeps its own licence; the licence files are inside /opt/xraydesk/_internal.
Sample images and fonts: see CREDITS.md in this folder.
COPYRIGHT
install -m 0755 "$HERE/postinst" "$PKG/DEBIAN/postinst"
install -m 0755 "$HERE/postrm" "$PKG/DEBIAN/postrm"

# dpkg wants no group/other-writable files; the bundle keeps its executable bits.
chmod -R u+rwX,go+rX,go-w "$PKG"
INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)"
one_line() { tr '\n' ' ' | tr -s ' '; }
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" \
    -e "s/@DEPENDS@/$(printf '%s' "$DEPENDS" | one_line)/" -e "s/@RECOMMENDS@/$RECOMMENDS/" \
    "$HERE/control.in" > "$PKG/DEBIAN/control"

if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$PKG/usr/share/applications/xraydesk.desktop"
fi

mkdir -p "$OUT"
DEB="$OUT/xraydesk_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group "-Z${XRAYDESK_DEB_COMPRESSION:-xz}" --build "$PKG" "$DEB"
echo "built $DEB ($(du -h "$DEB" | cut -f1), installs $((INSTALLED_SIZE / 1024)) MiB)"
