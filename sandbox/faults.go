package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind string

// Fault kinds.
const (
	// FaultRateLimit answers as if the rate limit were hit, in the
	// configured RateLimitForm.
	FaultRateLimit FaultKind = "rate_limit"
	// FaultServerError answers 500 with an ErrorMessage.
	FaultServerError FaultKind = "server_error"
	// FaultSlow waits Fault.Delay, then serves the request normally.
	FaultSlow FaultKind = "slow"
	// FaultReset closes the connection without an answer.
	FaultReset FaultKind = "reset"
)

// Endpoint names an API endpoint for fault injection: "token", "erps" (the
// registration endpoints), "accounts", "vendors", "lists", "taxData",
// "mappings", "requests" (status and errors), "listItems" (every List Item
// v4 and List Item Bulk v4 call), or "" for every endpoint.
type Endpoint string

// Endpoints.
const (
	EndpointAny      Endpoint = ""
	EndpointToken    Endpoint = "token"
	EndpointERPs     Endpoint = "erps"
	EndpointAccounts Endpoint = "accounts"
	EndpointVendors  Endpoint = "vendors"
	EndpointLists    Endpoint = "lists"
	EndpointTaxData  Endpoint = "taxData"
	EndpointMappings Endpoint = "mappings"
	EndpointRequests Endpoint = "requests"
	// EndpointListItems is every call under /list/v4.
	EndpointListItems Endpoint = "listItems"
)

// Fault makes the next Count requests to an endpoint fail. Faults apply to
// the token endpoint and the API, never to the admin API; they are used up
// in the order they were injected.
type Fault struct {
	Endpoint Endpoint `json:"endpoint"`
	// Method restricts the fault to one HTTP method; empty for any.
	Method string    `json:"method,omitempty"`
	Kind   FaultKind `json:"kind"`
	// Count is how many requests the fault hits (at least 1).
	Count int `json:"count"`
	// Delay is the wait of FaultSlow.
	Delay time.Duration `json:"delay,omitempty"`
}

type faults struct {
	list []*Fault
}

// InjectFault arms a fault.
func (s *Server) InjectFault(f Fault) error {
	switch f.Kind {
	case FaultRateLimit, FaultServerError, FaultReset:
	case FaultSlow:
		if f.Delay <= 0 {
			return errors.New("injecting fault: slow needs a positive delay")
		}
	default:
		return fmt.Errorf("injecting fault: unknown kind %q", f.Kind)
	}
	switch f.Endpoint {
	case EndpointAny, EndpointToken, EndpointERPs, EndpointAccounts, EndpointVendors,
		EndpointLists, EndpointTaxData, EndpointMappings, EndpointRequests, EndpointListItems:
	default:
		return fmt.Errorf("injecting fault: unknown endpoint %q", f.Endpoint)
	}
	if f.Count < 1 {
		f.Count = 1
	}
	f.Method = strings.ToUpper(f.Method)
	s.mu.Lock()
	s.fault.list = append(s.fault.list, &f)
	s.mu.Unlock()
	return nil
}

// ClearFaults disarms every fault not yet used up.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.fault.list = nil
	s.mu.Unlock()
}

// endpointOf classifies a request path.
func endpointOf(path string) Endpoint {
	if path == tokenPath {
		return EndpointToken
	}
	if isListItemPath(path) {
		return EndpointListItems
	}
	rest, ok := strings.CutPrefix(path, "/accountingintegration/v4/companies/")
	if !ok {
		return "-"
	}
	parts := strings.Split(rest, "/")
	// companyId, "erps", erpId, resource, …
	switch {
	case len(parts) >= 3 && parts[1] == "requests":
		return EndpointRequests
	case len(parts) <= 3:
		return EndpointERPs
	}
	switch Endpoint(parts[3]) {
	case EndpointAccounts, EndpointVendors, EndpointLists, EndpointTaxData, EndpointMappings, EndpointRequests:
		return Endpoint(parts[3])
	}
	return "-"
}

// takeFault uses up one matching fault, if any.
func (s *Server) takeFault(r *http.Request) *Fault {
	ep := endpointOf(r.URL.Path)
	if ep == "-" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.fault.list {
		if (f.Endpoint != EndpointAny && f.Endpoint != ep) || (f.Method != "" && f.Method != r.Method) {
			continue
		}
		hit := *f
		f.Count--
		if f.Count == 0 {
			s.fault.list = append(s.fault.list[:i:i], s.fault.list[i+1:]...)
		}
		return &hit
	}
	return nil
}

// applyFault serves r with an injected fault. It returns true when the
// request has been answered (or its connection reset).
func (s *Server) applyFault(w *statusRecorder, r *http.Request) bool {
	f := s.takeFault(r)
	if f == nil {
		return false
	}
	switch f.Kind {
	case FaultRateLimit:
		s.writeRateLimited(w, r, "Too many requests (injected fault)", time.Second)
	case FaultServerError:
		s.writeError(w, r, http.StatusInternalServerError, codeServerError, "Internal server error (injected fault)")
	case FaultSlow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.stop:
		}
		return false
	case FaultReset:
		w.reset = true
		s.resetConnection(w, r)
	}
	return true
}

// resetConnection drops the client connection without answering, with
// SO_LINGER 0 so the peer sees a reset.
func (s *Server) resetConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2 or a test recorder): abort the handler,
		// which closes the stream without a response.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
