#!/usr/bin/env python3
"""Calls hlgate over gRPC with the Python client generated into gen/ by
`make clients`: a contact search read page by page to the end, GetContact of
the first contact found, and a call hlgate refuses, whose google.rpc error
details (ErrorInfo, BadRequest) it decodes.

Against `make run` (sandbox, caller auth off) it needs no flags:

    make clients && /usr/bin/python3 clients/python/example.py

Runtime: Debian's python3-grpcio and python3-protobuf (so the system
python3, /usr/bin/python3). Flags, each with an environment variable: --addr
(HLGATE_ADDR, 127.0.0.1:9090), --key (HLGATE_CALLER_KEY, none: sent as
"authorization: Bearer <key>" when set), --location (HLGATE_LOCATION, the
sandbox's demo location), --query (ada) and --page-size (20).
"""

import argparse
import os
import sys

# The generated packages (hlgate, google.api, google.rpc,
# protoc_gen_openapiv2) live in gen/ next to this file.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

try:
    import grpc
    from google.protobuf import any_pb2  # noqa: F401
except ImportError as e:
    sys.exit(f"example: {e}: this python3 ({sys.executable}) lacks the gRPC or protobuf runtime; "
             "on Debian: apt-get install python3-grpcio python3-protobuf, and run /usr/bin/python3")
try:
    from google.rpc import error_details_pb2, status_pb2
    from hlgate.v1 import contacts_pb2, contacts_service_pb2_grpc
except ImportError as e:
    sys.exit(f"example: {e}: the client is not generated; run `make clients` in the repository root")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default=os.environ.get("HLGATE_ADDR") or "127.0.0.1:9090")
    p.add_argument("--key", default=os.environ.get("HLGATE_CALLER_KEY") or "")
    p.add_argument("--location", default=os.environ.get("HLGATE_LOCATION") or "SbxDemoLocation00001")
    p.add_argument("--query", default="ada")
    p.add_argument("--page-size", type=int, default=20)
    args = p.parse_args()

    metadata = [("authorization", "Bearer " + args.key)] if args.key else []
    with grpc.insecure_channel(args.addr) as channel:
        contacts = contacts_service_pb2_grpc.ContactsServiceStub(channel)

        # A search read to the end: each response's next_page_token asks for
        # the next page, until it is empty.
        token, pages, found, total, first_id = "", 0, 0, 0, ""
        while True:
            resp = contacts.SearchContacts(
                contacts_pb2.SearchContactsRequest(
                    location_id=args.location, query=args.query,
                    page_size=args.page_size, page_token=token),
                metadata=metadata, timeout=60)
            pages += 1
            found += len(resp.contacts)
            total = resp.total_size
            if not first_id and resp.contacts:
                first_id = resp.contacts[0].id
            token = resp.next_page_token
            if not token:
                break
        print(f'search "{args.query}": {found} contacts in {pages} pages (total_size {total})')
        if not first_id:
            print(f'example: search "{args.query}" found no contact to get', file=sys.stderr)
            return 1

        got = contacts.GetContact(
            contacts_pb2.GetContactRequest(location_id=args.location, contact_id=first_id),
            metadata=metadata, timeout=60)
        c = got.contact
        print(f"contact {c.id}: {c.name} <{c.email}> in {c.location_id}")

        # A call hlgate refuses before it reaches HighLevel: the id has
        # characters no HighLevel id has. The status carries ErrorInfo (why,
        # for code to branch on) and BadRequest (which field).
        try:
            contacts.GetContact(
                contacts_pb2.GetContactRequest(location_id=args.location, contact_id="not an id!"),
                metadata=metadata, timeout=60)
        except grpc.RpcError as err:
            print(f"error {err.code().name}: {err.details()}")
            for d in status_details(err).details:
                if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    d.Unpack(info)
                    print(f"  ErrorInfo reason={info.reason} domain={info.domain}")
                elif d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    br = error_details_pb2.BadRequest()
                    d.Unpack(br)
                    for v in br.field_violations:
                        print(f"  BadRequest field={v.field}: {v.description}")
                elif d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    ri = error_details_pb2.RetryInfo()
                    d.Unpack(ri)
                    print(f"  RetryInfo retry_delay={ri.retry_delay.ToTimedelta()}")
            return 0
        print("example: GetContact with a malformed id succeeded", file=sys.stderr)
        return 1


def status_details(err: grpc.RpcError) -> status_pb2.Status:
    """The google.rpc.Status a gRPC error carries in its
    grpc-status-details-bin trailer (what grpcio-status's from_call reads)."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    return status_pb2.Status()


if __name__ == "__main__":
    sys.exit(main())
