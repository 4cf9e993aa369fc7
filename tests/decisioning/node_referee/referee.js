"use strict";
/*
 * Adobe's Node.js SDK (@adobe/target-nodejs-sdk, the reference implementation of on-device decisioning) as a
 * referee for target_middleware's DecisioningEngine. Test code only: tests/decisioning/test_node_differential.py
 * installs the pinned SDK with `npm ci` into a temporary folder and runs this script there.
 *
 * Reads JSON lines on stdin, one request each:
 *   {"artifact": "/path/rules.json", "client": "code", "nowMs": 1613034000000,
 *    "geoLookup": {"x-geo-country-code": "US", ...}, "request": {...a Delivery API request...}}
 * and writes one JSON line per request, in order: {"response", "meta", "notifications", "geoLookups"}: the SDK's
 * on-device answer, the mboxes and views it says only the edge can decide, the display notifications it sent,
 * and the addresses it looked up; or {"error": "message"} when the SDK rejects the request or cannot load the
 * artifact.
 *
 * Offline and deterministic: the clock the SDK reads (`new Date()`, `Date.now()`) is frozen at `nowMs` for
 * each request, and `fetch` is replaced before the SDK loads, so its geo lookup (an IP address and no other geo
 * value) answers `geoLookup` and its display notifications are caught on their way out.
 */

const readline = require("readline");
const fs = require("fs");

const RealDate = Date;
let frozenNow = null;

class FrozenDate extends RealDate {
  constructor(...args) {
    if (args.length === 0 && frozenNow !== null) {
      super(frozenNow);
    } else {
      super(...args);
    }
  }

  static now() {
    return frozenNow !== null ? frozenNow : RealDate.now();
  }
}
global.Date = FrozenDate;

let geoAnswer = {};
const geoLookups = [];
const notified = [];

global.fetch = async (url, init = {}) => {
  let body = {};
  if (String(url).endsWith("/geo")) {
    geoLookups.push((init.headers || {})["x-forwarded-for"]);
    body = geoAnswer;
  } else if (String(url).includes("/rest/v1/delivery") && typeof init.body === "string") {
    notified.push(...(JSON.parse(init.body).notifications || []));
  }
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "content-type": "application/json" }
  });
};

// Loaded after the stand-ins above: the SDK keeps the `fetch` it finds when it loads.
const TargetClient = require("@adobe/target-nodejs-sdk");

const silent = { debug() {}, error() {} };
const clients = new Map();

function clientFor(artifactPath, clientCode) {
  const key = `${artifactPath}\u0000${clientCode}`;
  if (!clients.has(key)) {
    const artifactPayload = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
    clients.set(
      key,
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the SDK did not get ready")), 10000);
        const client = TargetClient.create({
          client: clientCode,
          organizationId: "someOrgId@AdobeOrg",
          decisioningMethod: "on-device",
          artifactPayload,
          pollingInterval: 0,
          targetLocationHint: "28",
          telemetryEnabled: false,
          logger: silent,
          events: {
            clientReady: () => {
              clearTimeout(timer);
              resolve(client);
            }
          }
        });
      })
    );
  }
  return clients.get(key);
}

async function decide(job) {
  const client = await clientFor(job.artifact, job.client);
  frozenNow = job.nowMs;
  geoAnswer = job.geoLookup || {};
  geoLookups.length = 0;
  notified.length = 0;
  try {
    const result = await client.getOffers({
      request: job.request,
      sessionId: "referee-session",
      decisioningMethod: "on-device"
    });
    await new Promise(resolve => setTimeout(resolve, 0)); // the display notifications go out after the answer
    return {
      response: result.response,
      meta: result.meta,
      notifications: notified.slice(),
      geoLookups: geoLookups.slice()
    };
  } finally {
    frozenNow = null;
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) {
      continue;
    }
    let answer;
    try {
      answer = await decide(JSON.parse(line));
    } catch (err) {
      answer = { error: String((err && err.message) || err) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

process.on("unhandledRejection", () => {}); // a notification sent into the void may reject; not our concern
main().catch(err => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
