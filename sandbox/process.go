package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/concurflow/concurflow/sandbox/internal/schema"
)

// Processing error texts, as the Request Processing page's sample shows.
const (
	processingErrorCode    = "dataInvalid.requestIdProcessingErrors"
	processingErrorMessage = "Failed to validate the input data"
)

// processingError is one element of a request's errors (the Schema page's
// ProcessingError).
type processingError struct {
	CompanyID        string            `json:"companyId"`
	RequestID        string            `json:"requestId"`
	ErrorCode        string            `json:"errorCode"`
	ErrorMessage     string            `json:"errorMessage"`
	ObjectType       Object            `json:"objectType"`
	Values           string            `json:"values"`
	ValidationErrors []ValidationError `json:"validationErrors"`
}

// enqueueLocked queues req on its ERP's worker, starting the worker if it is
// not running. Callers hold s.mu.
func (s *Server) enqueueLocked(e *erp, req *request) {
	if s.state.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.state.pending++
	e.queue = append(e.queue, req)
	if e.working {
		return
	}
	select {
	case <-s.stop:
		return // closed: nothing will process it
	default:
	}
	e.working = true
	s.workers.Add(1)
	go s.work(e)
}

// doneLocked marks one accepted request as finished. Callers hold s.mu.
func (s *Server) doneLocked(n int) {
	s.state.pending -= n
	if s.state.pending == 0 && n > 0 {
		close(s.idle)
	}
}

// dropQueueLocked abandons the requests queued for e (the ERP is being
// unregistered). Callers hold s.mu.
func (s *Server) dropQueueLocked(e *erp) {
	n := len(e.queue)
	e.queue = nil
	s.doneLocked(n)
}

// processingTime is how long after its acceptance a request of n records
// is processed: the fixed part plus n times the per-record part
// (WithProcessingTime).
func (s *Server) processingTime(n int) time.Duration {
	return s.cfg.processingDelay + time.Duration(n)*s.cfg.processingPerRecord
}

// work is the single worker of one company+ERP: it processes the queued
// requests in arrival order, each no earlier than its due time, and exits
// when the queue is empty or the server closes. Due times count from
// acceptance, so the waits of queued requests overlap: the processing time
// is latency, not a cost that serializes the company's requests.
func (s *Server) work(e *erp) {
	defer s.workers.Done()
	for {
		s.mu.Lock()
		if len(e.queue) == 0 {
			e.working = false
			s.mu.Unlock()
			return
		}
		req := e.queue[0]
		s.mu.Unlock()

		if d := time.Until(req.due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				s.mu.Lock()
				e.working = false
				s.mu.Unlock()
				return
			}
		}
		select {
		case <-s.stop:
			s.mu.Lock()
			e.working = false
			s.mu.Unlock()
			return
		default:
		}
		s.process(e, req)
	}
}

// op is one checked record of a request, ready to apply.
type op struct {
	id         string
	deleted    bool
	vendorType string
	norm       []byte
	raw        json.RawMessage
	errs       []ValidationError
}

// check validates every record of req without touching state.
func (s *Server) check(req *request) []op {
	ops := make([]op, len(req.data))
	if req.object == ObjectTaxData {
		s.checkTaxData(req, ops)
		return ops
	}
	// Normalized records share one buffer per request: one allocation
	// instead of one per record.
	size := 0
	for _, raw := range req.data {
		size += len(raw) + 32
	}
	buf := make([]byte, 0, size)
	for i, raw := range req.data {
		o := &ops[i]
		o.raw = raw
		if len(raw) > s.cfg.maxRecord {
			o.errs = []ValidationError{{
				Source:       "",
				ErrorMessage: fmt.Sprintf("The record size %d bytes exceeds the limit of %d bytes", len(raw), s.cfg.maxRecord),
				ErrorCode:    "record.size.exceeded",
			}}
			continue
		}
		rec := schema.CheckRecord(schema.Object(req.object), raw)
		o.id, o.deleted, o.vendorType = rec.ID, rec.Deleted, rec.VendorType
		if len(rec.Errors) > 0 {
			o.errs = rec.Errors
			continue
		}
		if !o.deleted {
			start := len(buf)
			next, err := normalize(buf, req.object, raw)
			if err != nil {
				o.errs = []ValidationError{{Source: "", ErrorMessage: err.Error(), ErrorCode: "record.invalid"}}
				continue
			}
			buf = next
			o.norm = buf[start:len(buf):len(buf)]
		}
	}
	return ops
}

// checkTaxData splits the errors of the whole tax-data body by data element.
// Errors outside any element fail every element.
func (s *Server) checkTaxData(req *request, ops []op) {
	body, _ := json.Marshal(struct {
		DeleteAll bool              `json:"deleteAll"`
		Data      []json.RawMessage `json:"data"`
	}{req.deleteAll, req.data})
	var global []ValidationError
	for _, ve := range schema.CheckTaxData(body) {
		i, ok := dataIndex(ve.Source)
		if !ok || i >= len(ops) {
			global = append(global, ve)
			continue
		}
		ops[i].errs = append(ops[i].errs, ve)
	}
	for i, raw := range req.data {
		o := &ops[i]
		o.raw = raw
		o.errs = append(o.errs, global...)
		if len(raw) > s.cfg.maxRecord {
			o.errs = append(o.errs, ValidationError{
				ErrorMessage: fmt.Sprintf("The record size %d bytes exceeds the limit of %d bytes", len(raw), s.cfg.maxRecord),
				ErrorCode:    "record.size.exceeded",
			})
		}
		if len(o.errs) > 0 {
			continue
		}
		var key struct {
			CountryCode string `json:"countryCode"`
		}
		_ = json.Unmarshal(raw, &key) // valid: CheckTaxData passed it
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw)
		o.id, o.norm = strings.ToUpper(key.CountryCode), buf.Bytes()
	}
}

// dataIndex reads i from an error source "data[i]…".
func dataIndex(source string) (int, bool) {
	rest, ok := strings.CutPrefix(source, "data[")
	if !ok {
		return 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:end])
	return i, err == nil
}

// process applies one request and publishes its data.statusUpdated event
// (none for tax data).
func (s *Server) process(e *erp, req *request) {
	ops := s.check(req)

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(e.queue) == 0 || e.queue[0] != req {
		return // dropped: the ERP was unregistered meanwhile
	}
	e.queue = e.queue[1:]
	now := s.now()
	s.expireVendorsLocked(e, now)
	set := e.set(req.object)
	if req.deleteAll {
		set.clear()
		if req.object == ObjectVendor {
			clear(e.vendorSent)
			clear(e.vendorType)
		}
	}
	failed := 0
	for i := range ops {
		o := &ops[i]
		if o.errs == nil && req.object == ObjectVendor && !o.deleted {
			if prev, ok := e.vendorType[o.id]; ok && prev != o.vendorType {
				o.errs = []ValidationError{{Source: "type", ErrorMessage: "Type cannot be updated for vendors", ErrorCode: "type.cannot.update"}}
			}
		}
		if o.errs != nil {
			failed++
			req.errors = append(req.errors, s.encodeProcessingError(req, o))
			continue
		}
		if o.deleted {
			set.remove(o.id)
			switch req.object {
			case ObjectVendor:
				delete(e.vendorSent, o.id)
				delete(e.vendorType, o.id)
			case ObjectList:
				e.mappings.removeERPList(o.id)
			}
			continue
		}
		set.put(o.id, o.norm)
		if req.object == ObjectVendor {
			e.vendorType[o.id] = o.vendorType
			if o.vendorType == schema.VendorEmployee {
				e.vendorSent[o.id] = now
			} else {
				delete(e.vendorSent, o.id)
			}
		}
	}
	switch {
	case failed == 0:
		req.status = StatusSuccess
	case failed == len(ops):
		req.status = StatusError
	default:
		req.status = StatusPartial
	}
	req.completed = now
	req.data = nil // processed; keep memory bounded
	// The Events page publishes data.statusUpdated for the PATCH requests
	// of Accounts, List Names and Vendors only; tax data gets none.
	if req.object != ObjectTaxData {
		s.publishLocked(s.statusEvent(e, req))
	}
	s.doneLocked(1)
}

// encodeProcessingError renders the ProcessingError of a failed record;
// values is the record as received, compacted.
func (s *Server) encodeProcessingError(req *request, o *op) []byte {
	var values bytes.Buffer
	if err := json.Compact(&values, o.raw); err != nil {
		values.Reset()
		values.Write(o.raw)
	}
	b, _ := json.Marshal(processingError{
		CompanyID:        req.companyID,
		RequestID:        req.id,
		ErrorCode:        processingErrorCode,
		ErrorMessage:     processingErrorMessage,
		ObjectType:       req.object,
		Values:           values.String(),
		ValidationErrors: o.errs,
	})
	return b
}

// expireVendorsLocked drops employee vendors not sent for the vendor TTL
// (150 days, see the Vendors page). Callers hold s.mu.
func (s *Server) expireVendorsLocked(e *erp, now time.Time) {
	for id, sent := range e.vendorSent {
		if !now.Before(sent.Add(s.cfg.vendorTTL)) {
			e.vendors.remove(id)
			delete(e.vendorSent, id)
			delete(e.vendorType, id)
		}
	}
}
