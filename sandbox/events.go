package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox/internal/delivery"
)

// Event types, as ess names them.
const (
	evStatusUpdated      = ess.EventDataStatusUpdated
	evMappingUpdated     = ess.EventMappingUpdated
	evListMappingCreated = ess.EventListMappingCreated
	evListMappingDeleted = ess.EventListMappingDeleted
	evDataResetRequested = ess.EventDataResetRequested
)

// publisher is what the sandbox needs of ESS delivery.
type publisher interface {
	PublishRaw(body []byte) error
	Subscribe(companyID, url string) string
	Unsubscribe(id string)
	Subscriptions() []delivery.Subscription
	Attempts() []delivery.Attempt
	WaitIdle(ctx context.Context) error
	PublicKeyPEM() []byte
	Close()
}

func newPublisher(cfg config) (publisher, error) {
	return delivery.New(delivery.Config{
		Key:       cfg.signingKey,
		Scheme:    cfg.signingScheme,
		Retention: cfg.retention,
		Now:       cfg.now,
		Client:    cfg.deliveryClient,
		Backoff:   cfg.backoff,
	})
}

// outEvent is an event as the sandbox encodes it. Each event type has the
// members of its sample on the Events page and no others: subtopic is null
// where the sample has it, absent where the sample lacks it; top-level data
// only on data.resetRequested.
type outEvent struct {
	ID            string          `json:"id"`
	CorrelationID string          `json:"correlationId"`
	Topic         string          `json:"topic"`
	Subtopic      json.RawMessage `json:"subtopic,omitempty"`
	EventType     string          `json:"eventType"`
	TimeStamp     string          `json:"timeStamp"`
	Data          json.RawMessage `json:"data,omitempty"`
	Facts         outFacts        `json:"facts"`
}

type outFacts struct {
	CompanyID string          `json:"companyId"`
	ErpID     string          `json:"erpId"`
	PartnerID string          `json:"partnerId"`
	Data      json.RawMessage `json:"data,omitempty"`
}

func newCorrelationID() string { return uuid.NewString() }

// factsEvent builds an event about e. Callers hold s.mu.
func (s *Server) factsEvent(e *erp, companyID, eventType, correlationID string, data json.RawMessage) outEvent {
	ev := outEvent{
		ID:            uuid.NewString(),
		CorrelationID: correlationID,
		Topic:         ess.Topic,
		EventType:     eventType,
		TimeStamp:     eventTime(s.now()),
		Facts:         outFacts{CompanyID: companyID, ErpID: e.pkg.ErpID, PartnerID: e.partnerID, Data: data},
	}
	switch eventType {
	case evStatusUpdated, evListMappingCreated, evListMappingDeleted:
		ev.Subtopic = json.RawMessage("null")
	}
	return ev
}

// statusEvent is the data.statusUpdated event of a processed request; its
// correlation id is the one of the request that was accepted. The errors
// link has the form of the Events page sample.
func (s *Server) statusEvent(e *erp, req *request) outEvent {
	data, _ := json.Marshal(struct {
		RequestID string        `json:"requestId"`
		Status    string        `json:"status"`
		Links     *requestLinks `json:"_links"`
	}{req.id, req.status, &requestLinks{Errors: &href{"/v4/companies/" + req.companyID + "/requests/" + req.id + "/errors"}}})
	return s.factsEvent(e, req.companyID, evStatusUpdated, req.correlationID, data)
}

// publishLocked hands an event to ESS delivery. It does not block.
func (s *Server) publishLocked(ev outEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		return // every member is built here; unreachable
	}
	_ = s.events.PublishRaw(body) // the body is an ESS event by construction
}

// Subscription is an ESS webhook subscription of the sandbox.
type Subscription struct {
	ID string `json:"id"`
	// CompanyID is the company whose events are delivered; empty for all.
	CompanyID string `json:"companyId"`
	URL       string `json:"url"`
}

// Delivery is one ESS delivery attempt.
type Delivery struct {
	EventID        string    `json:"eventId"`
	SubscriptionID string    `json:"subscriptionId"`
	URL            string    `json:"url"`
	Attempt        int       `json:"attempt"`
	Time           time.Time `json:"time"`
	// StatusCode is the receiver's HTTP status, 0 when Error is set.
	StatusCode int           `json:"statusCode"`
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"durationNanos"`
	WillRetry  bool          `json:"willRetry"`
}

// AddSubscription delivers the events of companyID (every company when
// empty) to the webhook endpoint at rawURL, signed, and returns the
// subscription id. It refuses a company that was not seeded and an
// endpoint that is not an absolute https URL (the Event Subscription
// Service page: "Your HTTPS server endpoint must be accessible from the
// public web"), except that plain http is accepted for loopback hosts so
// that local receivers need no certificate. The URL must not carry
// credentials or a fragment.
func (s *Server) AddSubscription(companyID, rawURL string) (string, error) {
	if err := checkEndpoint(rawURL); err != nil {
		return "", fmt.Errorf("subscribing %q: %w", rawURL, err)
	}
	companyID = strings.ToLower(companyID)
	if companyID != "" {
		s.mu.Lock()
		_, ok := s.state.companies[companyID]
		s.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("subscribing %q: %w", rawURL, errUnknownCompany(companyID))
		}
	}
	return s.events.Subscribe(companyID, rawURL), nil
}

// Subscribe is AddSubscription for tests and examples, where an invalid
// endpoint is a programming error: it panics instead of returning one,
// like regexp.MustCompile.
func (s *Server) Subscribe(companyID, rawURL string) string {
	id, err := s.AddSubscription(companyID, rawURL)
	if err != nil {
		panic("sandbox: " + err.Error())
	}
	return id
}

// checkEndpoint validates a webhook endpoint URL.
func checkEndpoint(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return errors.New("not an absolute http(s) URL with a host")
	case u.User != nil:
		return errors.New("credentials in the URL are not accepted")
	case u.Fragment != "" || strings.Contains(rawURL, "#"):
		return errors.New("a fragment is not part of an endpoint")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return errors.New("ESS delivers to HTTPS endpoints; plain http only to a loopback host")
	default:
		return fmt.Errorf("scheme %q: ESS delivers to HTTPS endpoints", u.Scheme)
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Unsubscribe ends a subscription; its pending deliveries are dropped.
func (s *Server) Unsubscribe(id string) { s.events.Unsubscribe(id) }

// Subscriptions lists the subscriptions in creation order.
func (s *Server) Subscriptions() []Subscription {
	subs := s.events.Subscriptions()
	out := make([]Subscription, len(subs))
	for i, sub := range subs {
		out[i] = Subscription{ID: sub.ID, CompanyID: sub.CompanyID, URL: sub.URL}
	}
	return out
}

// Deliveries returns the ESS delivery attempts so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	atts := s.events.Attempts()
	out := make([]Delivery, len(atts))
	for i, a := range atts {
		d := Delivery{
			EventID: a.EventID, SubscriptionID: a.SubscriptionID, URL: a.URL,
			Attempt: a.Number, Time: a.Time, StatusCode: a.StatusCode,
			Duration: a.Duration, WillRetry: a.WillRetry,
		}
		if a.Err != nil {
			d.Error = a.Err.Error()
		}
		out[i] = d
	}
	return out
}

// PublicKeyPEM is the PEM public key ESS deliveries' Concur-Signature
// verifies with.
func (s *Server) PublicKeyPEM() []byte { return s.events.PublicKeyPEM() }

// PublishRawEvent delivers body, which must be an ESS event, to the matching
// subscriptions exactly as given (for replaying documented samples).
func (s *Server) PublishRawEvent(body []byte) error {
	if err := s.events.PublishRaw(body); err != nil {
		return fmt.Errorf("publishing event: %w", err)
	}
	return nil
}
