// nodemailer.mjs: nodemailer's SMTP pool as a peer of `herald send
// --smtp`, for bench/compare.sh.
//
//   node nodemailer.mjs HOST PORT RECIPIENTS.jsonl CONNECTIONS
//
// One pooled transport (pool: true, maxConnections CONNECTIONS, no limit
// of messages per connection, no TLS: the sink is local and plain).  Each
// row becomes the message of bench/templates/notice.eml, built by
// nodemailer itself (headers, MIME, Message-ID); at most 4 x CONNECTIONS
// messages are handed to the pool at a time, so its connections never
// wait for work and its queue does not hold the whole list.  Prints
// "nodemailer: N sent, M failed" and exits 1 if any message failed.
import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";

const [host, port, list, connArg] = process.argv.slice(2);
const rows = readFileSync(list, "utf8").split("\n").filter((l) => l !== "");
const conns = Number(connArg);
const transport = nodemailer.createTransport({
  pool: true,
  maxConnections: conns,
  maxMessages: Infinity,
  host,
  port: Number(port),
  secure: false,
  ignoreTLS: true,
});

function text(r) {
  const trial = r.trial
    ? "You started on a trial; from the renewal on you are on the paid plan.\n"
    : "Thank you for staying with us another year.\n";
  return `Hello ${r.name},

your Acme ${r.plan} plan for ${r.company.name} renews on ${r.renews}, for
${r.company.seats} seats. Nothing needs doing: the card on file is charged
on that day and the invoice arrives by email a few minutes later.

${trial}
Your account: ${r.email} (customer number ${r.account_id})
Manage the plan: https://app.acme.example/billing/${r.account_id}
Change the seats: https://app.acme.example/billing/${r.account_id}/seats

If you did not expect this message, or the plan or the number of seats
is not what you want, reply to this email and we will sort it out before
the renewal date.

-- 
The Acme Billing Team
Acme Inc., 1 Example Street, Example City
`;
}

let next = 0, sent = 0, failed = 0, firstError = null;

async function lane() {
  while (next < rows.length) {
    const r = JSON.parse(rows[next++]);
    try {
      await transport.sendMail({
        from: "Acme Billing <billing@acme.example>",
        to: { name: r.name, address: r.email },
        replyTo: "Acme Support <support@acme.example>",
        subject: `${r.name}, your ${r.plan} plan renews on ${r.renews}`,
        text: text(r),
      });
      sent++;
    } catch (e) {
      failed++;
      firstError ??= String(e);
    }
  }
}

await Promise.all(Array.from({ length: 4 * conns }, lane));
transport.close();
console.log(`nodemailer: ${sent} sent, ${failed} failed`);
if (failed) {
  console.error(`nodemailer: first failure: ${firstError}`);
  process.exit(1);
}
