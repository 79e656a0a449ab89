#!/usr/bin/env bash
# Installs the Debian packages that Tollgate's tests drive for real (SIPp,
# PostgreSQL, FreeRADIUS, Kamailio, Redis, Chromium, baresip, the package linters), so that a
# fresh machine passes `make test` without anything installed by hand.
# It installs only what is missing, and does nothing (quickly) when all is
# present. Run as root; `make deps` calls it.
set -euo pipefail

# The Debian packages the test suite needs, separated by spaces. Add to this
# list when a test starts to depend on another component.
DEB_PACKAGES="sip-tester baresip postgresql freeradius freeradius-utils kamailio redis-server chromium chromium-driver rpm lintian"

missing=()
for pkg in $DEB_PACKAGES; do
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all test packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
