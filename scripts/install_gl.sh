#!/usr/bin/env bash
# Offscreen OpenGL for rendering videos without a GPU or display: Mesa's OSMesa (Debian libosmesa6).
# Installs it when missing and we may (root, or sudo without a password); otherwise says how.
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so\.8'; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo"; else
  echo "note: no offscreen OpenGL; videos will be skipped. Install it with: sudo apt-get install libosmesa6" >&2
  exit 0
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libosmesa6 >/dev/null
