// Package ess holds the types of SAP Concur Event Subscription Service (ESS)
// events on the Accounting Integration topic and the verification of the
// digital signature ESS puts on every delivery.
//
// Parsing follows the sample events on the Accounting Integration Events
// page: an event is a JSON object that carries at least a non-empty "id",
// "eventType" and "topic" and a "facts" object. "facts.data" arrives either as
// JSON (data.statusUpdated, listMapping.*) or as a JSON string that itself
// contains JSON (data.resetRequested); Facts.Data keeps the bytes as sent and
// Event.FactsData returns the normalised JSON.
//
// Signatures: the Event Subscription Service v4 page says every request
// carries a "Concur-Signature" header and publishes RSA public keys, but it
// does not name the algorithm or the encoding. This package takes the
// signature to be base64 of an RSA signature over the SHA-256 digest of the
// raw request body; Verify accepts PKCS #1 v1.5 and PSS and standard or
// URL-safe base64, padded or not, so either reading of the page verifies.
package ess
