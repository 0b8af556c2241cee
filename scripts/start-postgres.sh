#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the test suite and print its URL.
# Usage: eval "$(scripts/start-postgres.sh)"   -> exports ARA_TEST_POSTGRES_URL
# Installs Debian's postgresql package if no server binaries are present (CI machines are new).
set -euo pipefail
port="${ARA_TEST_POSTGRES_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing postgresql (Debian package)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
dir=$(mktemp -d /tmp/ara-pg.XXXXXX)
run_as=()
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  run_as=(su postgres -s /bin/sh -c)
else
  run_as=(sh -c)
fi
"${run_as[@]}" "'$bindir/initdb' -D '$dir/data' -U ara --auth=trust -E UTF8 >/dev/null"
"${run_as[@]}" "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null"
"${run_as[@]}" "'$bindir/createdb' -h 127.0.0.1 -p $port -U ara ara_test"
echo "export ARA_TEST_POSTGRES_URL=postgresql+asyncpg://ara@127.0.0.1:$port/ara_test"
echo "export ARA_TEST_POSTGRES_DATA='$dir/data'"
