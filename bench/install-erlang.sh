#!/bin/sh
# Installs Erlang/OTP from Debian's erlang-base (erl and escript) so that
# wardbench can run its BEAM rows. Needs root (or sudo) and apt.
set -eu
if command -v escript >/dev/null 2>&1; then
	echo "escript already installed: $(command -v escript)"
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends erlang-base
escript -s /dev/null 2>/dev/null || true
erl -noshell -eval 'io:format("OTP ~s~n", [erlang:system_info(otp_release)]), halt().'
