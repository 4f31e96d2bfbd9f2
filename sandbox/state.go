package sandbox

import (
	"encoding/json"
	"sort"
	"time"
)

// Object is an accounting object type (the Schema page's ObjectType), plus
// TAX_DATA for tax-data requests.
type Object string

// Object types.
const (
	ObjectAccount Object = "ACCOUNT"
	ObjectVendor  Object = "VENDOR"
	ObjectList    Object = "LIST"
	// ObjectTaxData marks tax-data requests and their errors. The ObjectType
	// enum has no tax-data value; this one is the sandbox's choice.
	ObjectTaxData Object = "TAX_DATA"
)

// Request statuses (the Schema page's ProcessingStatus).
const (
	StatusProcessing = "PROCESSING"
	StatusSuccess    = "SUCCESS"
	StatusPartial    = "PARTIAL"
	StatusError      = "ERROR"
)

// state is everything the sandbox remembers. Guarded by Server.mu.
type state struct {
	companies    map[string]*company
	companyOrder []string
	apps         map[string]App // client id → app
	appOrder     []string
	defaultApp   string // client id of the default app
	access       map[string]*accessToken
	refresh      map[string]*refreshToken
	pending      int // accepted requests not yet processed
}

func newState() state {
	return state{
		companies: map[string]*company{},
		apps:      map[string]App{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
	}
}

type company struct {
	id            string
	clientID      string   // the app it was seeded with (Company.ClientID)
	apps          []string // client ids of the connected apps
	scopes        []string
	edition       string
	requestTokens map[string]requestToken
	erps          map[string]*erp
	erpOrder      []string
	lastRegister  time.Time  // last call of POST …/erps (rate limit)
	lists         *listStore // SAP Concur lists and their items (listitems.go)
}

type accessToken struct {
	companyID string
	clientID  string
	scopes    []string
	expires   time.Time
}

type refreshToken struct {
	companyID string
	clientID  string
	scopes    []string
	expires   time.Time
}

// erpPackage is the stored registration (the Schema page's ErpPackage).
type erpPackage struct {
	PartnerAppName string          `json:"partnerAppName"`
	Features       []string        `json:"features"`
	PostingOptions json.RawMessage `json:"postingOptions,omitempty"`
	ErpName        string          `json:"erpName"`
	ExternalErpID  string          `json:"externalErpId"`
	ErpID          string          `json:"erpId"`
}

type erp struct {
	pkg        erpPackage
	partnerID  string
	accounts   *recordSet
	vendors    *recordSet
	lists      *recordSet
	taxData    *recordSet           // keyed by countryCode
	vendorSent map[string]time.Time // employee vendor id → last sent
	vendorType map[string]string    // vendor id → type
	requests   map[string]*request
	reqOrder   []string
	accepted   map[string]string    // if-none-match → request id
	lastWrite  map[string]time.Time // last call per write endpoint, "METHOD object" (rate limit)
	queue      []*request
	working    bool
	mappings   mappingState
}

func newERP(pkg erpPackage, partnerID string) *erp {
	return &erp{
		pkg:        pkg,
		partnerID:  partnerID,
		accounts:   newRecordSet(),
		vendors:    newRecordSet(),
		lists:      newRecordSet(),
		taxData:    newRecordSet(),
		vendorSent: map[string]time.Time{},
		vendorType: map[string]string{},
		requests:   map[string]*request{},
		accepted:   map[string]string{},
		lastWrite:  map[string]time.Time{},
		mappings:   newMappingState(),
	}
}

func (e *erp) set(obj Object) *recordSet {
	switch obj {
	case ObjectAccount:
		return e.accounts
	case ObjectVendor:
		return e.vendors
	case ObjectList:
		return e.lists
	default:
		return e.taxData
	}
}

// request is one accepted write request and, once processed, its outcome.
type request struct {
	id            string
	companyID     string
	erpID         string
	object        Object
	method        string
	ifNoneMatch   string
	correlationID string
	received      time.Time
	due           time.Time // wall clock (not WithClock): processing starts no earlier
	completed     time.Time
	status        string
	deleteAll     bool
	replace       bool // tax data PUT
	data          []json.RawMessage
	records       int
	bodySize      int
	errors        [][]byte // encoded ProcessingErrors
}

// recordSet keeps records by id in arrival order. Updates keep a record's
// place; deletes leave no gap in the order of the rest. Pages are addressed
// by sequence number, so a cursor stays valid while the set changes.
type recordSet struct {
	byID    map[string]int // id → index in entries
	entries []entry
	live    int
	nextSeq uint64
}

type entry struct {
	seq uint64
	id  string
	raw []byte // normalized JSON; nil = deleted
}

func newRecordSet() *recordSet { return &recordSet{byID: map[string]int{}} }

func (rs *recordSet) get(id string) ([]byte, bool) {
	i, ok := rs.byID[id]
	if !ok {
		return nil, false
	}
	return rs.entries[i].raw, true
}

func (rs *recordSet) put(id string, raw []byte) {
	if i, ok := rs.byID[id]; ok {
		rs.entries[i].raw = raw
		return
	}
	rs.nextSeq++
	rs.byID[id] = len(rs.entries)
	rs.entries = append(rs.entries, entry{seq: rs.nextSeq, id: id, raw: raw})
	rs.live++
}

func (rs *recordSet) remove(id string) bool {
	i, ok := rs.byID[id]
	if !ok {
		return false
	}
	delete(rs.byID, id)
	rs.entries[i].raw = nil
	rs.entries[i].id = ""
	rs.live--
	if dead := len(rs.entries) - rs.live; dead > 64 && dead > rs.live {
		rs.compact()
	}
	return true
}

func (rs *recordSet) compact() {
	kept := rs.entries[:0]
	for _, e := range rs.entries {
		if e.raw != nil {
			rs.byID[e.id] = len(kept)
			kept = append(kept, e)
		}
	}
	clear(rs.entries[len(kept):])
	rs.entries = kept
}

func (rs *recordSet) clear() {
	rs.byID = map[string]int{}
	rs.entries = nil
	rs.live = 0
}

// all returns every record in order.
func (rs *recordSet) all() []json.RawMessage {
	out := make([]json.RawMessage, 0, rs.live)
	for _, e := range rs.entries {
		if e.raw != nil {
			out = append(out, json.RawMessage(e.raw))
		}
	}
	return out
}

// page returns the records from sequence number from on, up to limit bytes
// of encoded records (at least one record), and the sequence number of the
// next page (0 when this is the last page).
func (rs *recordSet) page(from uint64, limit int) ([][]byte, uint64) {
	i := sort.Search(len(rs.entries), func(i int) bool { return rs.entries[i].seq >= from })
	var out [][]byte
	size := 0
	for ; i < len(rs.entries); i++ {
		e := rs.entries[i]
		if e.raw == nil {
			continue
		}
		if len(out) > 0 && size+len(e.raw)+1 > limit {
			return out, e.seq
		}
		out = append(out, e.raw)
		size += len(e.raw) + 1
	}
	return out, 0
}
