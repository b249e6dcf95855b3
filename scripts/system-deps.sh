#!/bin/sh
# Debian packages the tests and reports need: chromium (dashboard browser tests via Playwright, never
# `playwright install`), Noto CJK fonts (Chinese in screenshots and PDFs), Pango / HarfBuzz subset (WeasyPrint's
# PDF layout for the briefings) and poppler-utils (pdftotext / pdftoppm: the report tests read the PDFs back and
# render every page to PNG). Installs only what is missing, so a second run is instant.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing="$missing fonts-noto-cjk"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
