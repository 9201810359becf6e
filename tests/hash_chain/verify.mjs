// Recomputes the hash chains of an exported LTS Flow event store (`lts store export`) with none
// of the project's code: Node's JSON.parse and SHA-256, and the `canonicalize` package (RFC 8785).
// The algorithm is docs/hash-chain.md. Reads the export on stdin, prints one JSON line
// {checked, streams, legacy, breaks, first_break}; exits 1 when an event breaks its chain.
//
//     lts store export --schema intake | node tests/hash_chain/verify.mjs
//
// Hash version 1 (Python's json.dumps form, from before hash versions) is not recomputed here:
// such events are counted as `legacy`, and their stored hash still links the next event.

import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import canonicalize from 'canonicalize';

const GENESIS = '0'.repeat(64);
const LEGACY = 1;
const JCS = 2;

function hashOf(event, previous) {
  const content = {
    previous,
    id: event.event_id,
    stream: event.stream_id,
    version: event.stream_version,
    type: event.type,
    schema_version: event.schema_version,
    data: event.data,
    metadata: event.metadata,
  };
  return createHash('sha256').update(canonicalize(content), 'utf8').digest('hex');
}

const report = { checked: 0, streams: 0, legacy: 0, breaks: 0, first_break: null };
let stream = null;
let version = 0;
let previous = GENESIS;

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue;
  const event = JSON.parse(line);
  if (event.stream_id !== stream) {
    stream = event.stream_id;
    version = 0;
    previous = GENESIS;
    report.streams += 1;
  }
  report.checked += 1;
  let problem = null;
  if (event.stream_version !== version + 1) {
    problem = `version gap: expected version ${version + 1}`;
  } else if (event.hash_version === JCS) {
    if (hashOf(event, previous) !== event.hash) {
      problem = "hash does not match the event's content and the previous event's hash";
    }
  } else if (event.hash_version === LEGACY) {
    report.legacy += 1;
  } else {
    problem = `unknown hash version ${event.hash_version}`;
  }
  if (problem !== null) {
    report.breaks += 1;
    report.first_break ??= {
      position: event.position,
      stream_id: event.stream_id,
      stream_version: event.stream_version,
      event_id: event.event_id,
      reason: problem,
    };
  }
  version = event.stream_version;
  previous = event.hash;
}

console.log(JSON.stringify(report));
process.exitCode = report.breaks === 0 ? 0 : 1;
