#!/usr/bin/env node
// A caller in another language: it loads hlgate's API from proto/ alone
// (third_party/proto is only the include path for google/api imports) and
// calls ContactsService.SearchContacts and GetContact on one replica.
//
// Usage: node client.js <host:port> <location id>
// The caller key is read from HLGATE_E2E_KEY. It prints one JSON line with
// what it found and exits non-zero on any failure, printing the gRPC status
// with its details.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const root = path.resolve(__dirname, '..', '..');
const [target, locationId] = process.argv.slice(2);
const key = process.env.HLGATE_E2E_KEY || '';
if (!target || !locationId || !key) {
  console.error('usage: HLGATE_E2E_KEY=<caller key> node client.js <host:port> <location id>');
  process.exit(2);
}

const def = protoLoader.loadSync(
  path.join(root, 'proto', 'hlgate', 'v1', 'contacts_service.proto'),
  {
    includeDirs: [path.join(root, 'proto'), path.join(root, 'third_party', 'proto')],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  },
);
const hlgate = grpc.loadPackageDefinition(def).hlgate.v1;
const client = new hlgate.ContactsService(target, grpc.credentials.createInsecure());

function call(method, req) {
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer ' + key);
  const deadline = new Date(Date.now() + 30000);
  return new Promise((resolve, reject) => {
    client[method](req, md, { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function main() {
  const search = await call('SearchContacts', { location_id: locationId, page_size: 5 });
  if (!search.contacts || search.contacts.length === 0) {
    throw new Error('SearchContacts returned no contacts');
  }
  const first = search.contacts[0];
  const got = await call('GetContact', { location_id: locationId, contact_id: first.id });
  if (!got.contact || got.contact.id !== first.id) {
    throw new Error(`GetContact returned ${got.contact && got.contact.id}, want ${first.id}`);
  }
  console.log(JSON.stringify({
    searched: search.contacts.length,
    total_size: search.total_size,
    next_page_token: search.next_page_token !== '',
    contact_id: got.contact.id,
    contact_email: got.contact.email,
    contact_location: got.contact.location_id,
  }));
}

main().then(
  () => client.close(),
  (err) => {
    console.error('node client failed:', err.code !== undefined ? `code=${err.code} details=${err.details}` : err.stack || String(err));
    if (err.metadata) {
      const bin = err.metadata.get('grpc-status-details-bin');
      if (bin.length > 0) console.error('status details present (google.rpc.Status, %d bytes)', bin[0].length);
    }
    client.close();
    process.exit(1);
  },
);
