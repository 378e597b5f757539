#!/usr/bin/env bash
# A cross-check of `cargo bench --bench load` with wrk (Debian's package) as the load
# generator: the same same-night submissions, from a client written in C that takes far
# less of the machine's CPU than the Rust generator. SQLite only, one level per run.
#   benches/wrk/run.sh [CLIENTS] [SECONDS]        (defaults: 64 clients, 5 s)
# Needs a release build (`cargo build --release`), wrk, curl and python3; works in a
# scratch folder it removes at the end and on a free port.
set -euo pipefail
clients="${1:-64}"
seconds="${2:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
passage="$here/../../target/release/passage"
[ -x "$passage" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export PASSAGE_DATABASE_URL="sqlite://$work/passage.db" PASSAGE_MAIL_DIR="$work/mail" PASSAGE_LOG=warn
"$passage" migrate >/dev/null
org="$("$passage" org add --name "Refuge Bench" --type shelter --province QC)"
password="correct horse battery staple"
echo "$password" | "$passage" user add --email tr@example.org --roles treasurer --password-stdin >/dev/null
echo "$password" | "$passage" user add --email cw@example.org --roles caseworker --org "$org" --password-stdin >/dev/null
PASSAGE_BIND="127.0.0.1:$port" "$passage" serve 2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -sf "http://127.0.0.1:$port$1" -H 'content-type: application/json' "${@:2}"; }
field() { python3 -c "import sys, json; print(json.load(sys.stdin)['$1'])"; }
login() { api /api/v1/auth/login -d "{\"email\":\"$1\",\"password\":\"$password\"}" | field token; }
treasurer="$(login tr@example.org)"
caseworker="$(login cw@example.org)"
donor="$(api /api/v1/donors -H "authorization: Bearer $treasurer" \
    -d '{"name":"Fondation Exemple","email":"dons@example.org","language":"fr"}' | field id)"
for k in $(seq 1 50); do
    api /api/v1/donations -H "authorization: Bearer $treasurer" -H "Idempotency-Key: gift-$k" \
        -d "{\"donor_id\":\"$donor\",\"amount\":\"100000.00\",\"received_on\":\"$(date -u +%F)\"}" >/dev/null
done
api /api/v1/policy -X PUT -H "authorization: Bearer $treasurer" \
    -d '{"case_auto_cap":{"amount":"100000.00","days":7}}' >/dev/null
for _ in $(seq 1 "$clients"); do
    api /api/v1/cases -H "authorization: Bearer $caseworker" -d '{"province":"QC"}' | field code
done >"$work/cases.txt"
echo "$caseworker" >"$work/token.txt"
echo "wrk, $clients connections, $seconds s, SQLite, $(date -u +%Y-%m-%dT%H:%MZ)"
PASSAGE_WRK_DIR="$work" wrk -t2 -c"$clients" -d"${seconds}s" -s "$here/submit.lua" "http://127.0.0.1:$port" |
    grep -E "Requests/sec|p50"
