#!/usr/bin/env bash
# Installs Debian's chromium for the browser test of `reenact serve` when it is missing.
# Without root or sudo it only says so: the browser test then skips with that reason.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
apt_install() { "$@" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "$@" apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
if [ "$(id -u)" = 0 ]; then
  apt_install env || echo "install_browser: apt-get could not install chromium; the browser test will skip"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_install sudo || echo "install_browser: apt-get could not install chromium; the browser test will skip"
else
  echo "install_browser: chromium is missing and cannot be installed without root; the browser test will skip"
fi
exit 0
