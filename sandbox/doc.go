// Package sandbox is a strict in-memory fake of the HighLevel (LeadConnector)
// API V2: the upstream of hlgate's tests, benchmarks and demo, since
// HighLevel offers no sandbox of its own.
//
// A *Sandbox is an http.Handler. Use it in Go tests behind
// httptest.NewServer, in-process behind `hlgate serve --sandbox`, or
// standalone as `hlgate sandbox`. It serves:
//
//   - every operation of api/openapi.yaml; each operation's required scope,
//     Version header and token kind are read from that document's
//     x-hlgate-scope, x-hlgate-version and security scheme at start, so the
//     route table cannot drift from it. Operations with behaviour (OAuth,
//     search, free slots, appointments, payments, contacts and opportunities
//     with their duplicate rules, a location's seeded custom field
//     definitions) have hand-written handlers; every other one
//     is served by a generic engine (engine.go) from stored JSON documents,
//     its shape read from the operation's path and 2xx response schema, and
//     New refuses to start when the engine cannot serve one
//     (Sandbox.EngineOperations lists them; Sandbox.PutDocument stores a raw
//     document for it to answer as is);
//   - the OAuth flow: a consent page at GET /oauth/chooselocation (and
//     /v2/oauth/chooselocation, upstream's current path), POST /oauth/token
//     with the authorization_code and refresh_token grants,
//     POST /oauth/locationToken and GET /oauth/installedLocations;
//   - an admin API under /_sandbox/ (faults, token latency, expiry, codes,
//     Private Integration Tokens, stats, arrivals, reset, webhooks,
//     uninstall), mirrored by Go methods;
//   - HighLevel's webhooks for its own writes, signed with its own Ed25519
//     key and posted to Config.WebhookURL (webhooks.go).
//
// # Assumptions
//
// Where the reference (the official V2 documents and the facts compiled from
// them) leaves a rule open, the sandbox takes the stricter reading:
//
//   - Access tokens, refresh tokens and codes are opaque random strings (256
//     bits from crypto/rand), not JWTs. Only what validation needs is kept.
//   - Authorization codes are single use and live 5 minutes (Config.CodeTTL).
//     A code is spent by its first presentation by the right client, even if
//     the rest of that request is wrong.
//   - Refresh tokens rotate: every refresh_token grant returns a new pair and
//     spends the old refresh token. A reused, unknown, expired or other
//     client's refresh token gets 400 with error "invalid_grant"; every such
//     answer is counted (Stats.InvalidGrants). Earlier access tokens stay
//     valid until they expire (upstream documents no revocation) unless
//     Config.RevokeAccessOnRefresh is set.
//   - A code or refresh token presented with a user_type other than the one it
//     was issued for gets invalid_grant; the client_credentials grant, listed
//     but undocumented upstream, answers 400 unsupported_grant_type.
//   - Token endpoint errors carry both the upstream members {statusCode,
//     message} and the RFC 6749 members {error, error_description}.
//     Bad client credentials answer 401 "invalid_client"; missing members 422.
//   - Redirect URIs must be absolute http(s) URIs and, when the app registers
//     any, one of them; a token request that repeats redirect_uri must repeat
//     the one bound to the code.
//   - An agency (Company) install approves every location of the company
//     (approveAllLocations, installToFutureLocations); /oauth/locationToken
//     answers 400 for a location that is not approved or not the token's
//     company's.
//   - Every resource call goes through, in order: injected faults; the bearer
//     token (401 "Invalid token: access token is invalid" when missing,
//     malformed or unknown, "... is expired" when expired); the quota (429);
//     the token kind (401 with upstream's "This authClass type is not allowed
//     to access this scope..." when an agency token calls a location
//     operation, a location token an agency operation, or a Private
//     Integration Token a *-Only operation); the scope (401 "The token is not
//     authorized for this scope.", as upstream answers per the reference's
//     pitfall #6, not 403); the Version header (400 {statusCode, message}
//     naming the header when it is missing or not the operation's value: the
//     reference does not give upstream's answer, so the sandbox rejects); the
//     request against api/openapi.yaml (kin-openapi's openapi3filter, its
//     authentication disabled as the checks before are the sandbox's own):
//     path and query parameters and the JSON body, 422 with one message per
//     problem naming the parameter or the member by its dotted path
//     ("customFields.0: ...", "pageLimit: number must be at most 500",
//     "altId should not be empty"), 400 for a body that is missing, not JSON
//     or of another content type. Operations whose only parameters are plain
//     string path parameters skip the filter (a matched path satisfies them).
//     The token endpoint is outside this pipeline and checks its form itself.
//     So a request with a live token is counted by the quota even when a later
//     check rejects it.
//   - A location named by a request (locationId, location_id, altId, or a
//     body's locationId) that is not the token's own answers 403 "The token
//     does not have access to this location." whether it exists or not;
//     records addressed by id are looked up in the token's own location only,
//     so another location's ids answer 404.
//   - Quota: the key is (app id, location or company); all Private
//     Integration Tokens of a location share one key (app "pit"), stricter
//     than upstream's per-PIT burst. The window is an exact sliding log: a
//     request at t is accepted when fewer than RateLimit accepted requests lie
//     in (t-RateWindow, t]. Rejected requests do not enter the window. The
//     daily counter counts accepted requests and resets at 00:00 UTC. The five
//     documented X-RateLimit-* headers are on every response that got past
//     token identification (before that there is no key to report); a quota
//     429 carries no Retry-After, as upstream documents none; a forced 429
//     (Faults.Force429) does.
//   - Error bodies for 403, 404 and 429, which upstream does not document,
//     have the 401 shape {statusCode, message, error}.
//   - Request bodies must be application/json and may hold only the members
//     the operation declares: anything else answers 422 "property X should
//     not exist" (upstream's validation wording), a wrongly typed member 422,
//     malformed JSON 400. Query parameters are validated the same way
//     (enums, integer ranges, dates), with 422 and one message per problem.
//   - The engine: a GET of an item path reads, a GET of another path lists,
//     a POST to a collection creates, a PUT or PATCH of an item merges the
//     body's top-level members into it (its id and locationId kept), a
//     DELETE of an item removes it; anything else it refuses at start. A
//     collection is the request's path (its item's path without the id),
//     trailing slash dropped, so nested resources are kept per parent, and
//     documents live in the token's location only: another location's ids
//     answer 404 "<Noun> not found" (the envelope's name, e.g. "Calendar not
//     found"), as the hand handlers answer. A query locationId, location_id
//     or altId, or a created body's locationId, naming another location is a
//     403. Answers wrap the document in the 2xx schema's envelope (the one
//     object member, or array member for lists) with the schema's boolean
//     members true (a delete answers e.g. {"succeded": true}, the document's
//     spelling) and its numeric members of a list set to the count. A
//     created document gets an id shaped like upstream's ("_id" when the
//     schema has one), the token's location when the schema has a
//     locationId, and for every required member the body does not send the
//     schema's default or example. A list keeps insertion order and filters
//     by the query parameters that name a member of the documents (equality
//     as text). Stored documents are answered byte for byte. Pipelines and
//     calendars are such documents: the hand-written behaviour (opportunity
//     writes, calendar lists, free slots, appointments) reads them from the
//     same store, so a document put by a test is what every operation sees;
//     GET /calendars/ with showDrafted=false leaves out the calendars whose
//     document has isDraft true (the document names no draft member; no
//     seeded calendar is a draft).
//   - Records addressed by a path id that do not exist answer 404, except
//     payments orders and transactions, which answer 400 "Order not found" /
//     "Transaction not found" as the document records upstream doing.
//
// Resources (per-location stores, each behind its own RWMutex, seeded by a
// deterministic generator from Config.Seed; the demo location has 1,200
// contacts, 3 pipelines with 300 opportunities, 2 calendars with working
// hours and appointments over the next 21 days, 120 orders and their
// transactions):
//
//   - Contacts: create, update and upsert refuse a second contact with the
//     same email (case-insensitive) or phone in a location, upstream's
//     default duplicate rule (400 "This location does not allow duplicated
//     contacts."); upsert matches email first, then phone. Tags are stored
//     trimmed and lower-cased, without duplicates; removing absent tags is
//     not an error.
//   - Custom fields: every location defines one contact and one opportunity
//     field of each data type TEXT, NUMERICAL, MONETORY, CHECKBOX,
//     MULTIPLE_OPTIONS and FILE_UPLOAD (Sandbox.CustomFields lists them);
//     seeded records carry values of every type. A write names a field by id
//     or by its full key ("contact.nickname", "opportunity.budget"; the bare
//     name is not accepted); both may be sent if they name the same field. An
//     id or key the location does not define for that model (another
//     location's, or the other model's) is a 422 naming it, where upstream
//     may drop the entry silently. Values are checked against the type: TEXT
//     takes a string; NUMERICAL and MONETORY a number or a numeric string,
//     stored as a number; CHECKBOX and MULTIPLE_OPTIONS an array of strings,
//     or one string taken as a one-element array; FILE_UPLOAD an object or an
//     array of objects. Anything else (null included) is a 422 naming the
//     field. Picklist options are not enforced. Reads answer each value with
//     its stored JSON type (customFields[{id, value}] on contacts,
//     [{id, fieldValue}] on opportunities); a write replaces the values it
//     names and keeps the others.
//   - Contact search: locationId and pageLimit (1..500) are required; page
//     and searchAfter cannot be combined; page-based search reaches 10,000
//     contacts at most (400 beyond, use searchAfter). The default order is
//     dateAdded descending; sort[] accepts dateAdded, dateUpdated,
//     firstNameLowerCase, lastNameLowerCase, fullNameLowerCase, email,
//     companyName and id. The id always breaks ties, and every contact's
//     searchAfter is its sort values followed by its id, so a cursor walk
//     never repeats or skips a contact. Filters: operators eq, not_eq,
//     contains, not_contains (case-insensitive), exists, not_exists, and
//     range ({gt,gte,lt,lte} in epoch ms or ISO 8601) on dateAdded and
//     dateUpdated only; groups AND/OR nest. An unknown field or operator is a
//     422. query (at most 75 characters) matches name, email, phone and
//     company name. Results reflect writes at once (upstream may lag).
//   - Opportunities search: newest first, id descending on ties (order
//     added_asc reverses it; other order values are a 422); limit 1..100.
//     meta.startAfter/startAfterId name the last item of a page and are given
//     only when a further page exists, with nextPageUrl, nextPage and
//     currentPage; page-based paging works without a cursor. startAfter and
//     startAfterId must come together. campaignId matches nothing (no
//     seeded campaigns). Status "all" is a search filter only: writes that
//     set it get a 422. A second open opportunity for the same contact in
//     the same pipeline is refused (400), upstream's default.
//   - Free slots: the calendar's openHours are wall-clock hours of the
//     location's time zone; slots of slotDuration start every slotInterval
//     and must end by the closing time; a slot is free when no live
//     (not cancelled or invalid) appointment of the calendar overlaps it and
//     it does not start before now. The answer maps each day (in the
//     requested timezone, default the location's) to its slots in RFC 3339
//     with that zone's offset, and omits days without slots. The window is
//     closed: a slot starting exactly at startDate or endDate is in it (the
//     stricter reading of a document that does not say; see freeSlots). A
//     range over 31 days, an end before the start or an unknown zone is a
//     422; userId(s) must be team members of the calendar.
//   - Appointments must start exactly on a free slot and last one slot unless
//     ignoreFreeSlotValidation is set (400 "The slot you have selected is no
//     longer available." otherwise); assignedUserId must be a team member.
//     Events lists need one of calendarId, userId or groupId (422) and answer
//     every event touching the closed window [startTime, endTime] (one that
//     starts exactly at endTime or ends exactly at startTime is in), unpaged.
//   - Payments: altId (and altType where the document requires it, which must
//     be "location") name the token's location; limit 1..100 (default 10),
//     offset from 0, newest first with id descending on ties; totalCount is
//     the count of all matching records.
package sandbox
