#!/usr/bin/env bash
# Start (or, on a bare Debian machine, install and start) what the tests and `make demo-pg` need:
# PostgreSQL with a trusted `test` database, Mosquitto on 127.0.0.1:1883, Debian's Chromium and
# poppler-utils (pdftoppm). Idempotent, and fast when everything already runs.
set -euo pipefail

apt_updated=0
need_pkg() {  # need_pkg <command-or-path> <debian package>...
  local probe=$1; shift
  if command -v "$probe" >/dev/null 2>&1 || [ -x "$probe" ]; then return 0; fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (echo >"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

# PostgreSQL
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then need_pkg /usr/lib/postgresql postgresql; fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
  for _ in $(seq 1 50); do port_open 5432 && break; sleep 0.2; done
fi
if ! psql -h 127.0.0.1 -U root -d test -c 'select 1' >/dev/null 2>&1; then
  su postgres -c "psql -tc \"select 1 from pg_roles where rolname='root'\" | grep -q 1 || createuser -s root" || true
  su postgres -c "psql -tc \"select 1 from pg_database where datname='test'\" | grep -q 1 || createdb -O root test" || true
fi

# Mosquitto (the tests that need credentials and ACLs start their own instance on a free port)
need_pkg mosquitto mosquitto mosquitto-clients
if ! port_open 1883; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
  for _ in $(seq 1 50); do port_open 1883 && break; sleep 0.2; done
fi

# Browser for the end-to-end tests, pdftoppm for looking at reports
need_pkg /usr/bin/chromium chromium
need_pkg pdftoppm poppler-utils
# CJK glyphs for screenshots and PDFs in zh-CN (phones have them; a bare Debian does not)
[ -d /usr/share/fonts/opentype/noto ] || need_pkg /nonexistent-probe fonts-noto-cjk

port_open 5432 && port_open 1883 && echo "services: postgresql and mosquitto are up"
