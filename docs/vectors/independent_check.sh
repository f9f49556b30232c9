#!/usr/bin/env bash
# The published format, checked by code that shares nothing with traceledger: the Python
# vectors of docs/format.md and the Python bundle verifier (docs/verification.md) run
# against a bundle the real binary exports, and must refuse an edited copy of it.
#
#   docs/vectors/independent_check.sh PATH/TO/traceledger
#
# Needs python3 with venv; installs `cryptography` and `blake3` into a private venv.
set -euo pipefail
traceledger=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet cryptography blake3
python="$work/venv/bin/python"

"$python" "$here/trust_vectors.py" --check "$here/../format.md"

cd "$work"
"$traceledger" --ledger plant.db init --simulation > /dev/null
"$traceledger" simulate --units 40 --seed 3 > plant.ndjson
"$traceledger" --ledger plant.db ingest --quiet plant.ndjson > /dev/null
# A unit that was reworked: its bundle carries a nonconformance to drop.
unit=$("$traceledger" --ledger plant.db log --type unit.reworked --json --limit 1 \
    | "$python" -c 'import json,sys; print(json.loads(sys.stdin.readline())["event"]["data"]["unit"])')
"$traceledger" --ledger plant.db export "$unit" --bundle unit.bundle.json > /dev/null
"$traceledger" verify-bundle unit.bundle.json --ledger-key plant.db.key.pub > /dev/null
"$python" "$here/verify_bundle.py" unit.bundle.json --ledger-key plant.db.key.pub

# The nonconformance left out in transit: both verifiers must refuse the bundle.
"$python" - <<'PY'
import json
bundle = json.load(open("unit.bundle.json"))
bundle["records"] = [r for r in bundle["records"] if '"nonconformance.opened"' not in r["event"]]
json.dump(bundle, open("edited.bundle.json", "w"))
PY
for verifier in "$traceledger verify-bundle" "$python $here/verify_bundle.py"; do
    status=0
    $verifier edited.bundle.json --ledger-key plant.db.key.pub > /dev/null 2>&1 || status=$?
    if [ "$status" -ne 1 ]; then
        echo "independent check: $verifier accepted a bundle with a record left out (exit $status)" >&2
        exit 1
    fi
done
echo "independent check: format vectors hold; a bundle of $unit verifies in Python; a record left out is refused by both verifiers"
