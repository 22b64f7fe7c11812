// Calls hlgate over gRPC with the TypeScript client generated into gen/ by
// `make clients` (protoc-gen-es v2) and Connect's gRPC transport for Node: a
// contact search read page by page to the end, GetContact of the first
// contact found, and a call hlgate refuses, whose google.rpc error details
// (ErrorInfo, BadRequest) it decodes.
//
// Against `make run` (sandbox, caller auth off) it needs no flags:
//
//   make clients && cd clients/ts && npm run build && npm run example
//
// Flags, each with an environment variable: --addr (HLGATE_ADDR,
// 127.0.0.1:9090), --key (HLGATE_CALLER_KEY, none: sent as "authorization:
// Bearer <key>" when set), --location (HLGATE_LOCATION, the sandbox's demo
// location), --query (ada) and --page-size (20).
import { parseArgs } from "node:util";

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ContactsService } from "./gen/hlgate/v1/contacts_service_pb.js";

const { values: args } = parseArgs({
  options: {
    addr: { type: "string", default: process.env.HLGATE_ADDR || "127.0.0.1:9090" },
    key: { type: "string", default: process.env.HLGATE_CALLER_KEY || "" },
    location: { type: "string", default: process.env.HLGATE_LOCATION || "SbxDemoLocation00001" },
    query: { type: "string", default: "ada" },
    "page-size": { type: "string", default: "20" },
  },
});
const location = args.location!;
const query = args.query!;
const pageSize = Number(args["page-size"]);

const transport = createGrpcTransport({ baseUrl: `http://${args.addr}` });
const contacts = createClient(ContactsService, transport);
const headers: Record<string, string> = args.key ? { authorization: `Bearer ${args.key}` } : {};
const opts = { headers, timeoutMs: 60_000 };

async function main(): Promise<void> {
  // A search read to the end: each response's nextPageToken asks for the
  // next page, until it is empty.
  let pageToken = "";
  let pages = 0;
  let found = 0;
  let total = 0;
  let firstId = "";
  do {
    const resp = await contacts.searchContacts({ locationId: location, query, pageSize, pageToken }, opts);
    pages++;
    found += resp.contacts.length;
    total = resp.totalSize;
    if (!firstId && resp.contacts.length > 0) {
      firstId = resp.contacts[0].id;
    }
    pageToken = resp.nextPageToken;
  } while (pageToken !== "");
  console.log(`search "${query}": ${found} contacts in ${pages} pages (total_size ${total})`);
  if (!firstId) {
    throw new Error(`search "${query}" found no contact to get`);
  }

  const got = await contacts.getContact({ locationId: location, contactId: firstId }, opts);
  const c = got.contact!;
  console.log(`contact ${c.id}: ${c.name} <${c.email}> in ${c.locationId}`);

  // A call hlgate refuses before it reaches HighLevel: the id has
  // characters no HighLevel id has. The status carries ErrorInfo (why, for
  // code to branch on) and BadRequest (which field).
  try {
    await contacts.getContact({ locationId: location, contactId: "not an id!" }, opts);
  } catch (e) {
    const err = ConnectError.from(e);
    console.log(`error ${Code[err.code]}: ${err.rawMessage}`);
    for (const info of err.findDetails(ErrorInfoSchema)) {
      console.log(`  ErrorInfo reason=${info.reason} domain=${info.domain}`);
    }
    for (const br of err.findDetails(BadRequestSchema)) {
      for (const v of br.fieldViolations) {
        console.log(`  BadRequest field=${v.field}: ${v.description}`);
      }
    }
    for (const ri of err.findDetails(RetryInfoSchema)) {
      console.log(`  RetryInfo retry_delay=${ri.retryDelay?.seconds ?? 0}s`);
    }
    return;
  }
  throw new Error("GetContact with a malformed id succeeded");
}

main().catch((e: unknown) => {
  console.error("example:", e);
  process.exit(1);
});
