#!/usr/bin/env bash
# The world's ./scripts/audit-log-consistency.sh: audit_log entries are in time order by id (an entry
# older than the one before it was written by a clock or a migration that went back). No table: nothing
# to check.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
q() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAqc "$1"; }
if [ "$(q "select count(*) from information_schema.tables where table_name = 'audit_log'")" -eq 0 ]; then
  echo "OK: no audit_log table, nothing to check"; exit 0
fi
bad=$(q "select string_agg(b.id::text, ',' order by b.id) from audit_log a join audit_log b on b.id = a.id + 1 where b.at < a.at")
[ -z "$bad" ] || { echo "FAILED: audit_log entries out of time order: $bad"; exit 1; }
echo "OK: audit_log is in time order"
