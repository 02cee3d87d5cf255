#!/usr/bin/env bash
# memviz at scale: generate a trace with N buffer events (default 1,000,000:
# N/2 buffers, each a "b" and an "e", plus the runtime's counter event per
# alloc/free and one node span per two buffers, in formats/trace.c's exact
# format), then time `memviz --summary`, the HTML and SVG writers, and the
# page's first draw in headless Chromium (the page records
# performance.now() after its first draw, measured from navigation start,
# so it includes reading and decoding the 1M-event data).
#   tools/bench_memviz.sh [N_EVENTS]     (SHARDFLOW=build/shardflow by default)
# Targets (issue 6): summary < 1 s, render < 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
sf=${SHARDFLOW:-build/shardflow}
n=${1:-1000000}
dir=$(mktemp -d /tmp/memviz_bench.XXXXXX)
[ -n "${BENCH_KEEP:-}" ] && echo "keeping $dir" || trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$dir/trace.json" <<'PY'
import random, sys
n_events, path = int(sys.argv[1]), sys.argv[2]
n_bufs = n_events // 2
rng = random.Random(6)
out = open(path, "w", buffering=1 << 22)
w = out.write
w('{"traceEvents":[\n')
w('{"ph":"M","pid":0,"tid":0,"ts":0.000,"name":"process_name","args":{"name":"rank 0: bench"}},\n')
w('{"ph":"M","pid":0,"tid":0,"ts":0.000,"name":"process_sort_index","args":{"sort_index":0}}')
t, live, pending = 0.0, 0, []  # pending: (free at node, id, bytes, name)
ops = ["matmul", "add", "concat", "pad", "rmsnorm", "swiglu", "attention", "redistribute"]
for node in range(n_bufs // 2):
    name = "node_%d" % node
    start = t
    for j in range(2):
        bid = node * 2 + j
        nbytes = 256 * rng.choice([1, 4, 16, 64, 256, 1024, 4096, 16384])
        life = 2 if rng.random() < 0.98 else rng.randint(50, 5000)
        t += 0.5
        live += nbytes
        w(',\n{"ph":"C","pid":0,"tid":0,"ts":%.3f,"name":"allocated","args":{"bytes":%d}}' % (t, live))
        w(',\n{"ph":"b","pid":0,"tid":0,"ts":%.3f,"cat":"buffer","name":"t%d","id2":{"local":"0x%x"},'
          '"args":{"tensor":"t%d","shape":"[%d]","dtype":"u8","bytes":%d,"requested_bytes":%d,"alloc_node":"%s"}}'
          % (t, bid, bid, bid, nbytes, nbytes, nbytes, name))
        pending.append((node + life, bid, nbytes))
    keep = []
    for (at, bid, nbytes) in pending:
        if at <= node:
            t += 0.5
            live -= nbytes
            w(',\n{"ph":"C","pid":0,"tid":0,"ts":%.3f,"name":"allocated","args":{"bytes":%d}}' % (t, live))
            w(',\n{"ph":"e","pid":0,"tid":0,"ts":%.3f,"cat":"buffer","name":"t%d","id2":{"local":"0x%x"},'
              '"args":{"free_node":"%s"}}' % (t, bid, bid, name))
        else:
            keep.append((at, bid, nbytes))
    pending = keep
    t += 0.2
    w(',\n{"ph":"X","pid":0,"tid":0,"ts":%.3f,"dur":%.3f,"cat":"node","name":"%s","args":{"op":"%s"}}'
      % (start, t - start, name, ops[node % len(ops)]))
for (at, bid, nbytes) in pending:
    t += 0.5
    live -= nbytes
    w(',\n{"ph":"C","pid":0,"tid":0,"ts":%.3f,"name":"allocated","args":{"bytes":%d}}' % (t, live))
    w(',\n{"ph":"e","pid":0,"tid":0,"ts":%.3f,"cat":"buffer","name":"t%d","id2":{"local":"0x%x"},'
      '"args":{"free_node":"<end>"}}' % (t, bid, bid))
w('\n],\n"displayTimeUnit":"ms"}\n')
PY
events=$(grep -c '"ph":"[be]"' "$dir/trace.json")
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
printf 'trace: %s buffer events, %s MB\n' "$events" $(( $(stat -c %s "$dir/trace.json") / 1000000 ))
printf '%-28s %10s\n' step seconds
printf '%-28s %10.3f\n' "memviz --summary" "$(secs "$sf" memviz --summary "$dir/trace.json")"
printf '%-28s %10.3f\n' "memviz --summary --json" "$(secs "$sf" memviz --summary --json "$dir/trace.json")"
printf '%-28s %10.3f\n' "memviz -o page.html" "$(secs "$sf" memviz "$dir/trace.json" -o "$dir/page.html")"
printf '%-28s %10.3f\n' "memviz -o page.svg" "$(secs "$sf" memviz "$dir/trace.json" -o "$dir/page.svg" 2>/dev/null || echo nan)"
printf 'page: %s MB\n' $(( $(stat -c %s "$dir/page.html") / 1000000 ))
if [ -x /usr/bin/chromium ]; then
  # Three loads, each with a fresh profile: the first also pays for a cold start.
  for run in 1 2 3; do
    dom=$(timeout 300 /usr/bin/chromium --headless --no-sandbox --disable-gpu \
          --disable-background-networking --disable-component-update --disable-sync --no-first-run \
          --disable-quic --user-data-dir="$dir/profile$run" --dump-dom "file://$dir/page.html" 2>/dev/null)
    # sed quits after the first match itself: `| head -1` under pipefail can
    # kill sed with SIGPIPE.
    val() { sed -n "s/.*$1=\"\([^\"]*\)\".*/\1/p;T;q" <<<"$dom"; }
    ms=$(val data-render-ms)
    errors=$(sed -n 's/.*id="errors" data-count="\([0-9]*\)".*/\1/p;T;q' <<<"$dom")
    printf '%-28s %10.3f   (script errors: %s; %s bands, %s small buffers merged; load/decode/layout/draw ms: %s)\n' \
      "browser: first draw ($run)" "$(echo "${ms:-0} / 1000" | bc -l)" "${errors:-?}" \
      "$(val data-bands)" "$(val data-small)" "$(val data-phases-ms)"
  done
else
  echo "browser: SKIP (chromium not installed)"
fi
