// Package concur is a plain Go client of SAP Concur's Accounting Integration
// v4 API and of Concur's company-level OAuth2, usable from any Go program
// (it does not import Benthos).
//
// # Types
//
// Every schema of the Schema page has a type with the documented JSON names:
// Account, Vendor and Address, ListName, the TaxData tree, ErpPackage,
// RequestStatus, ProcessingError, ErrorMessage, ValidationError,
// MappingsResponse and Links. Where the pages disagree with themselves the
// types read both spellings:
//
//   - links are an array of {rel, href} on the Schema page but an object
//     keyed by relation in every example; both are read, the keyed form is
//     written (Links).
//   - the Request Processing page answers _links, the data pages links;
//     both are read, links is written (RequestStatus, Page).
//   - configuration fields carry required on the Schema page and isRequired
//     in the examples; both are read, isRequired is written.
//   - tax data carries countryName on the Schema page and countryDesc in the
//     examples; both fields exist.
//   - companyEdition is an array on the Schema page and a string in the
//     Mappings example (StringList reads both).
//
// # Client
//
// A Client is bound to one company. Writes send caller-built bodies as is
// (Patch, AddTaxData, ReplaceTaxData), so that a caller that packs requests
// up to the 4 MB limit controls every byte; PatchAccounts and friends
// marshal typed records. GETs are iterators (iter.Seq2) that follow next
// links; hrefs are resolved whether they start at /v4/ (as in the examples)
// or at /accountingintegration/v4/, and absolute hrefs must stay on the base
// URL's host. The base URL is the token's geolocation when known, else
// ClientConfig.BaseURL. Redirects are not followed, so the bearer token
// never leaves the API host.
//
// Empty ERP or request ids are refused before anything is sent.
// ClientConfig.OnResponse reports every call (method, path, status,
// latency, correlation id) for logs and metrics.
//
// Non-2xx answers are *APIError values, which match with errors.Is:
// ErrRateLimited (429, and Concur's general 400 form, "the number of
// requests received exceed the request limit" on the HTTP Status Codes
// page, recognised by a rate-limit error code such as
// security.rate.limit.reached or by that wording, never when the body
// carries validation errors), ErrAlreadyAccepted (412 on an if-none-match
// key Concur has seen), ErrValidation, ErrUnauthorized, ErrForbidden,
// ErrNotFound and ErrServer. IsRetryable says whether resending may help.
// The Concur-Correlationid header of an answer is kept in
// APIError.CorrelationID and RequestStatus.CorrelationID.
//
// # List Item v4
//
// The same Client calls the List Item v4 and List Item Bulk v4 APIs (under
// /list/v4, not bound to an ERP): ListItem, CreateListItem, UpdateListItem,
// DeleteListItem and DeleteListItemFromList; ListChildren,
// ListItemChildren and ListItemChildrenInList iterate over every page
// (page=1, 2, … up to totalPages), AllListItems walks a whole list depth
// first. CreateListItems and UpdateListItems send up to MaxBulkListItems
// parts; their 201/200, 206 and 400 answers carrying a Bulk List Item
// Response are returned as answers (each part succeeds or fails on its
// own; BulkListItemError.ListItem.Key gives the long code a failed part is
// about), while a 400 Error Message (request validation, whose validation
// errors carry "message" rather than "errorMessage") or a 429 is an
// *APIError like any other. Long codes join ancestors' short codes with a
// hyphen, which is why the pages forbid hyphens in codes and names.
//
// # OAuth2
//
// TokenSource is an oauth2.TokenSource for one company. It bootstraps from
// the refresh token in its TokenStore, else a configured refresh token,
// else the company request token (password grant, username = company id,
// password = request token, credtype=authtoken), falling back to the
// request token when a refresh token is refused with invalid_grant. It
// replaces access tokens 60 s before they expire (a quarter of their life
// for tokens shorter than 4 minutes), lets one goroutine at a
// time call the token endpoint (the others wait for its token), and saves
// every new refresh token before handing out the access token that came
// with it; if the save fails the token call's result is kept in memory and
// the save retried on the next call, so a rotated refresh token is never
// lost. DirStore keeps one 0600 JSON file per company, replaced atomically
// (temporary file, fsync, rename, directory fsync). Transport forces one
// refresh and replays a request once after a 401.
//
// Access tokens live in memory only. Secrets (client secret, request,
// refresh and access tokens) never appear in error strings, and the config
// and stored-token types redact them when printed.
//
// Choices where the docs are silent: refresh_expires_in is read as epoch
// seconds (as the Authentication page says) unless it is too small to be a
// date, then as seconds from now; without it a new refresh token is
// assumed to live 180 days. Tax data processing errors are labelled
// TAX_DATA. A GET page without records ends the iteration even if it has a
// next link.
package concur
