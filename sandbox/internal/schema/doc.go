// Package schema is the stateless record validation the Concur sandbox
// applies to Accounting Integration v4 request data. It is written from the
// reference pages (the Schema page first, then the Accounts, Vendors, List
// Names, Tax Data and Registration pages and the API explorer's swagger
// file), not from any client code.
//
// Stateful rules are the caller's: a vendor's type cannot change, a record
// may not exceed 200 KB, a body may not exceed 4 MB, rate limits.
//
// # Errors
//
// Every failed rule is one ValidationError. Source is the JSON path of the
// offending member (address.country, data[0].stateEntries[1].stateCode).
// ErrorCode follows the style of the documented codes (type.cannot.update):
// the source without array indices, a dot and a suffix:
//
//   - required: the member is absent, null, a blank string, or (for required
//     arrays) empty;
//   - invalid: wrong JSON type, a value outside an enumeration, or a bad
//     format;
//   - duplicate: a value that must be unique repeats.
//
// A record or body that is not one well-formed JSON object yields the single
// error record.invalid (records) or body.invalid (bodies), with an empty
// Source. An object type other than ACCOUNT, VENDOR and LIST yields
// objectType.invalid. ErrorMessage names the field and, for bad values, what
// was received (shortened to 64 bytes).
//
// # Records (CheckRecord)
//
// One element of a PATCH "data" array for ACCOUNT, VENDOR or LIST.
//
//   - id: required string, for every object type and also for deletions.
//   - isDeleted: optional boolean. When true only id is required and no
//     other member is looked at (the record is about to be removed).
//   - ACCOUNT: name and type required; type one of the AccountType enum
//     (ACCOUNTS_PAYABLE … OTHER_INCOME); number an optional string.
//   - LIST: name required.
//   - VENDOR: type required, ACCOUNTING or EMPLOYEE; currencyCode required,
//     an active ISO 4217 alphabetic code (IsCurrency). ACCOUNTING requires
//     name and companyName; EMPLOYEE requires lastName, firstName, email and
//     employeeId. These follow the Schema page. The swagger file is looser
//     (only id and type required, currencyCode "mandatory for Accounting
//     vendors", firstName optional); where the two disagree the Schema page
//     wins, as the Vendors page's examples satisfy it. Members required by
//     one vendor type, and taxId, phone, accountNumber, are optional strings
//     otherwise. email, when not blank, must look like an address: one '@',
//     a non-empty local part, a dotted domain without empty labels, no
//     whitespace or control characters (the pages give no format; this is
//     deliberately loose). address is null or an object whose members addr1,
//     addr2, addr3, city, state, country, postalCode and note are optional
//     strings (the Schema page types address as "string" with format
//     VendorAddress; every example sends an object, so an object it is).
//     address.country is free text: the Vendors page's example sends "USA".
//
// # Tax data (CheckTaxData)
//
// A whole POST or PUT body: an object with data (array) and deleteAll
// (boolean). data is required unless deleteAll is true (the Tax Data page's
// "delete all" PUT sends only deleteAll). Each data element needs
// countryCode, an assigned ISO 3166-1 alpha-2 code in upper case;
// countryName and countryDesc (the Schema page names the first, the Tax
// Data page's examples send the second) are optional strings; stateEntries
// is a required array. Each state entry has optional stateCode and
// stateDesc (null when the data is not state specific) and a required
// reclaimEntries array. Each reclaim entry needs reclaimCode and a
// reclaimDetails array, reclaimDesc optional. Each reclaim detail needs
// taxCode and validFrom; taxRateDesc optional; percentage an optional number
// from 0 to 100; validFrom and validTo are ISO-8601 simple dates
// (YYYY-MM-dd, real calendar dates) and validTo, when given, must not be
// before validFrom. Choices where the pages are silent: required arrays
// must not be empty (an entry without rates carries no tax data), the
// percentage range, and the ordering of the two dates.
//
// # Registration (CheckRegistration)
//
// An ErpPackage body. On POST partnerAppName, erpName and externalErpId are
// required strings; on PATCH they may be left out (the Registration page's
// update example sends only features and postingOptions) but when sent must
// not be blank, and at least one of features and postingOptions must be
// sent: each replaces the stored list whole, so it must be complete.
// features is an array of distinct ErpFeatureFlag values
// (SUPPORTS_RECEIPT_POSTING, SUPPORTS_LIABILITY_ACCOUNT,
// DISABLE_INVOICE_INTEGRATION, ENABLE_TAX_INTEGRATION — the Schema page's
// list; the swagger enum names only the first). postingOptions is an array
// of objects whose postingCode and postingName are required and unique
// across the list ("Must be unique", the Schema page), with an optional
// boolean availableForOutOfPocketExpenses and an optional
// configurationFields array whose elements need a configurationFieldType
// from the ConfigurationFieldType enum and may carry the boolean flag as
// "required" (Schema page) or "isRequired" (Registration page examples).
// erpId is response only and ignored in requests.
//
// # General choices
//
// Unknown members are ignored everywhere. Member names match exactly (the
// pages spell them in camel case; no case folding). A repeated member keeps
// its last value, as encoding/json does. The pages document no maximum
// lengths, so no length limits are applied beyond the fixed-size codes.
// Records are decoded once by an allocation-free scanner that reads only
// the known members, so valid records cost no heap allocation beyond the
// returned id.
package schema
