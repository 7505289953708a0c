// A subscriber of the CQRS pair's events in miniature: its own queue, subscriber.<user>, bound to
// cqrs.events; each event handled once by its id (the pair delivers at least once) and gated on its
// stream's version; one JSON line per message on stdout, acknowledged after it is handled.
//
//   CQRS_SUBSCRIBER_URL=amqp://USER:PASSWORD@127.0.0.1:5672/cqrs node examples/node_subscriber/index.js
import amqp from "amqplib";

const EVENTS = "cqrs.events";
const BINDING_KEYS = ["customer.*", "account.*"];
const PREFETCH = 32;

const url = process.env.CQRS_SUBSCRIBER_URL;
if (!url) {
  console.error("CQRS_SUBSCRIBER_URL: not set (amqp://USER:PASSWORD@HOST:5672/cqrs, a subscriber user)");
  process.exit(2);
}
const queue = `subscriber.${decodeURIComponent(new URL(url).username)}`;

// What was handled: the event ids, and each stream's version. In memory, for the miniature; a real
// subscriber records them with the event's effect, in one transaction, so that they outlive it
// (examples/python_subscriber/ledger.py).
const seen = new Set();
const versions = new Map();

function print(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

// The envelope (docs/subscribers.md: event_id, stream_type, stream_id, version, occurred_at, event,
// and schema_version where the event's is not 1), or why it is not one. Every byte is the sender's.
function read(content) {
  let body;
  try {
    body = JSON.parse(content.toString("utf8"));
  } catch {
    return { reason: "the body is not JSON" };
  }
  const wellFormed =
    typeof body === "object" &&
    body !== null &&
    typeof body.event_id === "string" &&
    typeof body.stream_id === "string" &&
    Number.isSafeInteger(body.version) &&
    body.version >= 1 &&
    typeof body.event?.type === "string";
  return wellFormed ? { envelope: body } : { reason: "not an event envelope" };
}

function handle(envelope) {
  if (seen.has(envelope.event_id)) return "duplicate";
  seen.add(envelope.event_id);
  const last = versions.get(envelope.stream_id) ?? 0;
  if (envelope.version <= last) return "stale";
  versions.set(envelope.stream_id, envelope.version);
  // A gap (versions missing before this one) is noted; whether to wait for them is the reader's call.
  return envelope.version === last + 1 ? "applied" : "gap";
}

const connection = await amqp.connect(url);
let stopping = false;
connection.on("close", () => {
  if (!stopping) {
    // The miniature does not reconnect; amqplib's connectWithRecoveryPromise would.
    console.error("the broker connection closed");
    process.exitCode = 1;
  }
});
const channel = await connection.createChannel();
await channel.prefetch(PREFETCH);
// What it rejects goes to its own dead-letter queue, through its own exchange.
await channel.assertExchange(`${queue}.dlx`, "fanout", { durable: true });
await channel.assertQueue(`${queue}.dlq`, { durable: true });
await channel.bindQueue(`${queue}.dlq`, `${queue}.dlx`, "");
await channel.assertQueue(queue, { durable: true, arguments: { "x-dead-letter-exchange": `${queue}.dlx` } });
for (const key of BINDING_KEYS) {
  await channel.bindQueue(queue, EVENTS, key);
}

const { consumerTag } = await channel.consume(queue, (message) => {
  if (message === null) return; // the broker cancelled the consumer
  const { envelope, reason } = read(message.content);
  if (reason) {
    channel.nack(message, false, false);
    print({ outcome: "dead-lettered", message_id: message.properties.messageId ?? null, reason });
    return;
  }
  const outcome = handle(envelope);
  channel.ack(message);
  const { event_id, stream_id, version } = envelope;
  print({ outcome, event_id, type: envelope.event.type, stream_id, version });
});
print({ ready: queue });

async function stop() {
  stopping = true;
  await channel.cancel(consumerTag); // no new deliveries; the unacknowledged go back to the queue
  await channel.close();
  await connection.close();
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
