// fetch.mjs: node's own fetch (undici, keep-alive) as a peer of
// `herald send` with a .http template, for bench/compare.sh.
//
//   node fetch.mjs URL RECIPIENTS.jsonl LANES
//
// LANES async loops share the rows; each takes the next row, builds the
// same JSON body as bench/templates/event.http.in and awaits its POST, so
// at most LANES requests (and connections) are in flight.  Prints
// "fetch: N sent, M failed" and exits 1 if any request failed.
import { readFileSync } from "node:fs";

const [url, list, lanesArg] = process.argv.slice(2);
const rows = readFileSync(list, "utf8").split("\n").filter((l) => l !== "");
const lanes = Number(lanesArg);
let next = 0, sent = 0, failed = 0, firstError = null;

async function lane() {
  while (next < rows.length) {
    const r = JSON.parse(rows[next++]);
    const body = JSON.stringify({
      event: "plan.renewing",
      account: { id: r.account_id, email: r.email, name: r.name,
                 company: r.company.name },
      plan: { name: r.plan, seats: String(r.company.seats),
              renews: r.renews },
    });
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
      });
      await res.arrayBuffer();
      if (res.ok) sent++;
      else { failed++; firstError ??= `HTTP ${res.status}`; }
    } catch (e) {
      failed++;
      firstError ??= String(e.cause ?? e);
    }
  }
}

await Promise.all(Array.from({ length: lanes }, lane));
console.log(`fetch: ${sent} sent, ${failed} failed`);
if (failed) {
  console.error(`fetch: first failure: ${firstError}`);
  process.exit(1);
}
