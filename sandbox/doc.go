// Package sandbox is an in-process emulator of SAP Concur's Accounting
// Integration v4 API, Concur's company OAuth2 token endpoint and ESS webhook
// delivery of Accounting Integration events, written from the reference
// pages. Use it like net/http/httptest:
//
//	srv := sandbox.New(t)                  // or sandbox.Start() outside tests
//	co, _ := srv.SeedCompany()              // company id, the app's client id/secret, request token
//	erpID, _ := srv.RegisterERP(co.ID)      // or POST …/erps with a token
//	… point a client at srv.URL() …
//	_ = srv.WaitIdle(ctx)                   // all processing and deliveries done
//	accounts, _ := srv.Accounts(co.ID, erpID)
//
// Everything is served from one base URL on 127.0.0.1: POST
// /oauth2/v0/token, the API under /accountingintegration/v4, List Item v4
// under /list/v4, and the sandbox-only admin API under /sandbox/v1 (see
// docs/sandbox.md). Close
// stops the listener, the per-ERP workers and ESS delivery, and waits for
// all of them.
//
// # Authentication (Company Level Authentication page)
//
// As in App Center, one partner app (client id and secret) serves many
// companies. Each server has a default app (WithPartnerApp, or generated);
// RegisterApp adds more. SeedCompany connects the company to the default
// app (or WithApp's) and issues a request token for that app; ConnectApp
// connects another app and issues a request token for it. A request token
// is bound to its company and app, and so are the refresh and access tokens
// issued for it: another app's credentials cannot exchange or refresh them
// (code 5 for a request token, 108 for a refresh token), and an app not
// connected to the company gets code 53. Company.ClientID/ClientSecret are
// the credentials of the app the company was seeded with.
//
// POST /oauth2/v0/token takes application/x-www-form-urlencoded forms with
// client_id and client_secret and either grant_type=password (username =
// company id, password = request token, credtype=authtoken) or
// grant_type=refresh_token. Request tokens are valid 24 hours and reusable
// within them. The answer carries expires_in (a string, "3600" by default,
// WithTokenLifetime), scope, token_type Bearer, access_token,
// refresh_token, refresh_expires_in (epoch seconds; refresh tokens live six
// months) and geolocation (the sandbox's base URL). Errors are
// {"code","error","error_description"} with the documented codes (5, 51,
// 52, 53, 54, 60, 61–65, 106, 108, 120, 135); invalid_client answers 401,
// the rest 400. Every refresh_token grant returns a new refresh token and
// invalidates the one presented (code 108 afterwards), so clients must store
// each new one as the Authentication page tells them to;
// WithRefreshRotation can instead keep the same token or leave the old one
// valid.
//
// Every API call needs "Authorization: Bearer <access token>": missing,
// unknown, revoked or expired tokens get 401; a token of another company,
// or one lacking spend.accountingintegration.read (GET) or .write (other
// methods), gets 403.
//
// # API behaviour (the Accounting Integration v4 pages)
//
//   - Registration: POST …/erps validates the ErpPackage (required
//     partnerAppName, erpName, externalErpId), assigns an erpId UUID and
//     answers 200; it may be called once a minute per company. PATCH
//     …/erps/{erpId} replaces the features and/or posting options it
//     carries (at least one of them is required; each replaces the whole
//     list). DELETE answers 204 and drops the ERP, everything cached for it
//     and requests still queued.
//   - PATCH …/accounts, …/vendors, …/lists and POST (add) / PUT (replace)
//     …/taxData answer 202 with a RequestStatus whose links are under
//     "links" (as the write pages show); GET …/requests/{id} answers the same
//     under "_links" (as the Request Processing page shows). Hrefs are
//     relative to the API base path, "/v4/companies/…", exactly as printed.
//   - Accepted requests are processed asynchronously, by one worker per
//     company+ERP in arrival order, each once its processing time after
//     acceptance has passed (until then GET …/requests/{id} says
//     PROCESSING): by default 500 ms plus 50 µs per record
//     (WithProcessingTime; WithProcessingDelay(0) processes at once). The
//     waits of queued requests overlap. Processing applies deleteAll
//     first, then each record in order — upsert by id, or delete when
//     isDeleted is true. Final status SUCCESS (no record failed),
//     ERROR (every record failed) or PARTIAL. Each failed record yields a
//     ProcessingError with errorCode "dataInvalid.requestIdProcessingErrors",
//     errorMessage "Failed to validate the input data", objectType, values
//     (the record as received, compacted, as a JSON string) and the
//     validationErrors of sandbox/internal/schema or the stateful rules
//     below. data.statusUpdated is published when an accounts, vendors or
//     lists request completes (the Events page names those three PATCH
//     APIs); tax-data requests publish no event, their status is read with
//     GET …/requests/{id}.
//   - Limits: a body over 4 MB (4,000,000 bytes) is refused with 413 (read
//     through http.MaxBytesReader, never unbounded); a record over 200 KB
//     (200,000 bytes) fails alone ("record.size.exceeded"). Each write
//     endpoint "can be called once per second" and registration "once
//     every minute": an endpoint is one method on one path, so PATCH
//     accounts, vendors and lists and POST and PUT taxData each have their
//     own budget per company+ERP, and POST …/erps one per company. Every
//     authenticated call counts, whatever its answer (400, 412 and 413
//     too), as a gateway counts calls before the service reads them; calls
//     refused by the limit do not. A call over the limit gets the List
//     Item Bulk page's "Rate Limit Error": 429, Retry-After and
//     {"timestamp","httpStatus":"429 - Too Many Requests","error":{"id":
//     "security.rate.limit.reached","message":"Too many requests"},"path"}.
//     WithRateLimitForm selects the 400 form of the same body or a 429
//     ErrorMessage (the swagger's schema for 429); WithRateLimit(false)
//     lifts both limits; WithWriteInterval makes the write limit slower
//     than documented (a benchmark scaling Concur down to what its machine
//     can feed).
//   - if-none-match: <uuid> on a write: a UUID already accepted for that
//     company+ERP gets 412 and nothing is applied twice. Surrounding quotes
//     are ignored; a value that is not a UUID gets 400.
//   - Vendors: a vendor's type cannot change ("type.cannot.update", as the
//     Request Processing sample). Employee vendors expire 150 days after
//     they were last sent (by the WithClock clock).
//   - Lists: deleting a list name removes its mapping to a SAP Concur list;
//     deleteAll keeps mappings (the List Names page's table).
//   - GET …/accounts, …/vendors, …/lists, …/taxData and
//     …/erps/{erpId}/requests/{id}/errors return pages of at most 1 MB of
//     data (WithPageSize), oldest record first, with links.next.href
//     (_links for request errors) to the next page; the last page has no
//     links member.
//   - GET …/mappings is built from sandbox state: erpId, companyEdition,
//     ledger, features, one DEFAULT file with paymentTypes, listMappings,
//     invoiceLiabilityAccount and billableField, and invoicePolicies when
//     any are set.
//   - Errors are ErrorMessage bodies (timestamp, httpStatus "404 - Not
//     Found", errorCode, errorMessage, path, validationErrors): malformed
//     JSON and bad UUIDs 400, unknown company, ERP, request or path 404, a
//     method the path does not serve 405 (with Allow), a content type other
//     than application/json 415.
//   - Every answer carries Concur-Correlationid: the request's own, or a
//     new UUID.
//
// # Events (Accounting Integration Events page)
//
// Events are built like the page's samples and delivered, signed, by
// sandbox/internal/delivery to the subscriptions made with AddSubscription
// or Subscribe (absolute https endpoint URLs, as the Event Subscription
// Service page requires, or plain http to a loopback host):
// data.statusUpdated (correlationId = the accepted request's
// Concur-Correlationid; facts.data = {requestId, status,
// _links.errors.href} with the sample's ERP-less href, a path no page
// documents and the sandbox does not serve: read the errors under
// facts.erpId); listMapping.created / listMapping.deleted followed by
// mapping.updated for MapList / UnmapList; mapping.updated for
// UpdateMappings unless only invoice policies changed; data.resetRequested
// for RequestReset, with facts.data a JSON string as in the sample.
// subtopic is null where the sample shows it and absent where it does not.
//
// # Choices where the docs are silent
//
//   - "4 MB" and "200 KB" are read as decimal units, the stricter reading.
//   - Error codes of ErrorMessage bodies (unauthorized, forbidden, notFound,
//     badRequest, invalidJson, invalidUuid, validationFailed,
//     payloadTooLarge, unsupportedMediaType, methodNotAllowed,
//     requestAlreadyAccepted, internalServerError) are the sandbox's own.
//   - Deleting a record that is not cached succeeds. Deleting a list name
//     publishes no event.
//   - Tax data: one "record" is one country element; POST upserts by
//     countryCode, PUT replaces everything with the valid elements; errors
//     use objectType "TAX_DATA". Tax-data writes share if-none-match with
//     the other writes.
//   - The partnerId of events is derived from the client id of the app that
//     registered the ERP (RegisterERP: the app the company was seeded with).
//   - Page cursors ("next") are opaque, and stay valid while data changes:
//     records added after the cursor was issued appear on later pages.
//   - The request log keeps the most recent 10000 API and token requests.
//   - A refresh invalidates the refresh token presented: the Authentication
//     page says a new one is returned and must be stored, not whether the
//     old one keeps working; invalidating it catches clients that do not
//     store it (WithRefreshRotation relaxes this).
//   - Every authenticated call to a rate-limited endpoint counts, whatever
//     its answer; POST and PUT …/taxData are separate endpoints.
//   - Tax-data requests publish no data.statusUpdated: the Tax Data pages
//     say "events will be published" but the Events page lists the event
//     for the Accounts, List Names and Vendors PATCH only.
//   - Processing time: the pages give no figures. 500 ms plus 50 µs per
//     record is an assumption (a full 4 MB request of some 20,000 accounts
//     takes about 1.5 s); what it buys is that a status read right after
//     the 202 sees PROCESSING, as against Concur.
//
// # Deliberate deviations from the docs
//
//   - Retry-After is the whole seconds until the endpoint accepts a call
//     again, rounded up (1 for the per-second limits), where the List Item
//     Bulk sample shows "retry-after: 0": a client that honours it is not
//     refused again. Injected rate-limit faults send 1.
//   - The rate-limit answer is the List Item Bulk page's gateway body; the
//     swagger names ErrorMessage as the schema of 429. The docs disagree;
//     the printed answer wins (WithRateLimitForm(RateLimit429ErrorMessage)
//     serves the swagger's form).
//   - One base URL on 127.0.0.1 serves the token endpoint, the API and the
//     admin API, and is every token's geolocation; there are no data
//     centres. The sandbox listens on loopback only.
//   - The token endpoint serves company credentials only: the password
//     grant with credtype=authtoken and the refresh_token grant. Other
//     grants answer code 60, other credtypes code 120. Token revocation
//     (app-mgmt connections) is RevokeTokens, not an API.
//   - ESS: subscriptions are made with AddSubscription or the admin API,
//     not the Subscription Management API, with no limit of 5 per
//     application and no deletion of failing subscriptions after 30 days.
//     Plain http to a loopback host is accepted (ESS requires a public
//     HTTPS endpoint with a CA-signed certificate). Deliveries come from
//     127.0.0.1, signed with a key of the server's own (WithSigningKey;
//     not Concur's published one), over mutual TLS only when
//     WithDeliveryClient supplies a client certificate. Retries back off 1
//     s doubling to 10 min (WithDeliveryBackoff); the pages give no
//     schedule.
//   - Events that come from an administrator's actions in the SAP Concur UI
//     (list mappings, mapping updates, reset requests) are triggered
//     through the admin API or MapList, UnmapList, UpdateMappings and
//     RequestReset.
//   - Validation messages and codes other than those the pages print are
//     the sandbox's wording (sandbox/internal/schema).
//
// # List Item v4 (List Item v4 and List Item Bulk v4 pages)
//
// The Events page tells partners to send the items of a mapped ERP list with
// the List Item v4 API on listMapping.created and to stop on
// listMapping.deleted. The sandbox serves, under /list/v4 on the same base
// URL, with the company taken from the access token:
//
//   - GET /list/v4/items/{itemId}, POST /list/v4/items (201, Location),
//     PUT /list/v4/items/{itemId}, DELETE /list/v4/items/{itemId} and
//     DELETE /list/v4/lists/{listId}/items/{itemId} (204; the item and all
//     its descendants are deleted);
//   - GET /list/v4/lists/{listId}/children (first-level items),
//     /list/v4/items/{itemId}/children and
//     /list/v4/lists/{listId}/items/{itemId}/children: pages of 100
//     ({"links","content","page"}), with page, sortBy (value, shortCode),
//     sortDirection, isDeleted, hasChildren and the value, shortCode and
//     shortCodeOrValue filters of the Query Syntax (eq, cp, not, sw, ew);
//   - POST /list/v4/lists/{listId}/bulk (create) and PATCH (update by long
//     code, "deleted": true to delete): 1 to 250 parts run in order, each on
//     its own; {"status","recordsSucceeded","recordsFailed","errors"} with
//     SUCCESS (201 for POST, 200 for PATCH), PARTIAL_SUCCESS (206) or
//     FAILURE (400), each failed part echoed with its documented error id
//     (list.not.found, list.deleted, item.duplicate.code,
//     item.duplicate.code.deleted, item.parent.not.found,
//     item.parent.deleted, item.list.id.not.match.parent,
//     item.max.level.exceeded, item.duplicate.item.shared, item.not.found,
//     item.deleted).
//
// Scopes: GET needs spend.listitem.read or .write, POST, PUT and PATCH
// .write, DELETE .delete; seeded companies carry all three by default. A
// missing, unknown or expired token gets 401, a missing scope 403. Errors
// are the pages' Error Message {"timestamp","httpStatus","error":{"id",
// "message"},"validationErrors","path"}; request validation failures are
// 400 "request.validation.error" with validationErrors (source, message),
// e.g. {"source":"requests","message":"size must be between 1 and 250"}.
// Reads carry an ETag and answer 304 to a matching If-None-Match. Answers
// carry Content-Type application/json;charset=UTF-8 and Cache-Control
// no-cache, private, as the pages print them.
//
// Codes: an item's long code is its parent's code, a hyphen and its short
// code; long codes are unique in a list. Short codes and values must not
// hold a hyphen (the Code Naming Restrictions), are required and not blank.
// A list has 1 to MaxListLevels levels; a child of an item at the last
// level fails with item.max.level.exceeded.
//
// Lists: SAP Concur lists belong to a company (the List Item paths carry no
// ERP). MapList (admin POST …/listMappings) creates the list its
// concurListId names when the company has none of that id: with the
// admin body's "levels", else as many levels as the fieldMappings' fields
// and connected lists name, else MaxListLevels. Unmapping keeps the list
// and its items. CreateConcurList / admin POST …/lists creates a list
// directly (optional id, name, category, levels); DeleteConcurList marks it
// deleted (list.deleted); ListItems / admin GET …/lists/{listId}/items
// shows every item, deleted ones included. The API works on any existing
// list, mapped or not, as Concur's does: "stop sending" is the partner's
// duty, visible in the request log.
//
// Choices where the List Item pages are silent or disagree:
//
//   - Deletes are soft: a deleted item keeps its code and is still
//     returned by GET with isDeleted true; creating its code again fails
//     with item.duplicate.code.deleted (a PATCH error on the page, used for
//     creates too); PATCH {"code","deleted":false} restores it (not its
//     children; item.parent.deleted under a deleted parent); a value update
//     of a deleted item fails with item.deleted; deleting again succeeds.
//   - Items belong to one list (the pages offer no call that shares an
//     item), so lists has one element and both DELETE forms act alike.
//     item.duplicate.item.shared: a code live in another list of the same
//     ConcurList.Category. item.operation.timeout never happens.
//   - Hyphens are refused in values as well as short codes (the page says
//     "item names or item codes"); parentCode and code are long codes and
//     hold them.
//   - Statuses the pages do not list: unknown items 404 item.not.found on
//     GET, PUT and DELETE (DELETE lists no 404); an unknown list 404
//     list.not.found for single calls; every other documented error id 400;
//     a bulk FAILURE 400 for PATCH too; deleted lists 400. Error ids for
//     401, 403, 415 (a content type other than application/json), 413
//     (bodies over 4,000,000 bytes) and unknown paths are the sandbox's own.
//   - The pages' error messages are used without the tables' trailing
//     period, as their response examples print them. Code comparisons are
//     exact; filters compare case-insensitively.
//   - parentId is null for a first-level item in single-item answers (the
//     create and update examples) and absent in children pages (the
//     first-level children example). PUT may change the short code, which
//     renames the long codes of the item's descendants. Given both,
//     parentId and parentCode must name the same item.
//   - Children pages list live items unless isDeleted=true, which adds the
//     deleted ones; links (first, prev, next, last) appear only when there
//     is more than one page. Accept-Language is accepted and ignored.
//   - The pages name no level limit: MaxListLevels (10) is the sandbox's.
//     They name no length limits for codes and values either: none is
//     enforced.
//   - No List Item rate limit is documented, so none is enforced; fault
//     injection (endpoint "listItems") answers the bulk page's Rate Limit
//     Error sample: 429, retry-after: 0.
//
// Fault injection (InjectFault) makes the next N answers of an endpoint a
// rate-limit answer, a 500, a slow answer or a connection reset.
package sandbox
