package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sentinel errors an *APIError matches with errors.Is, so that callers can
// branch on the kind of failure without looking at status codes.
var (
	// ErrRateLimited: 429 Too Many Requests, or Concur's general 400 answer
	// for "the number of requests received exceed the request limit" (see
	// the HTTP Status Codes page), recognised by its error code or message.
	ErrRateLimited = errors.New("concur: rate limited")
	// ErrAlreadyAccepted: 412 Precondition Failed, the if-none-match key of
	// a data request was already accepted, so the data need not be sent again.
	ErrAlreadyAccepted = errors.New("concur: request already accepted")
	// ErrValidation: 400 with validation errors in the body.
	ErrValidation = errors.New("concur: validation failed")
	// ErrUnauthorized: 401, the access token is missing, expired or revoked.
	ErrUnauthorized = errors.New("concur: unauthorized")
	// ErrForbidden: 403, the token lacks a scope or belongs to another company.
	ErrForbidden = errors.New("concur: forbidden")
	// ErrNotFound: 404, unknown company, ERP or request.
	ErrNotFound = errors.New("concur: not found")
	// ErrServer: any 5xx answer.
	ErrServer = errors.New("concur: server error")
)

// APIError is a non-success answer of the Accounting Integration API. It
// matches the sentinel errors above with errors.Is, and errors.As gives the
// first *ValidationError of the body.
type APIError struct {
	// Method and Path identify the request (path only: no host, no query).
	Method string
	Path   string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the parsed error body, zero when the body was not JSON.
	Message ErrorMessage
	// RetryAfter is the Retry-After header as a duration, 0 when absent.
	RetryAfter time.Duration
	// CorrelationID is the Concur-Correlationid header, for support requests.
	CorrelationID string
}

// Error formats the failure with the request, the status and Concur's code
// and message. It never contains tokens or secrets.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("concur: ")
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if code := e.Message.Code(); code != "" {
		b.WriteString(": " + code)
	}
	if text := e.Message.Text(); text != "" {
		b.WriteString(": " + text)
	}
	for i, v := range e.Message.ValidationErrors {
		if i == 3 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Message.ValidationErrors)-i)
			break
		}
		b.WriteString("; " + v.Error())
	}
	if e.CorrelationID != "" {
		b.WriteString(" [correlation id " + e.CorrelationID + "]")
	}
	return b.String()
}

// Is matches the sentinel error for the status of the answer.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests ||
			(e.StatusCode == http.StatusBadRequest && isRateLimitMessage(e.Message))
	case ErrAlreadyAccepted:
		return e.StatusCode == http.StatusPreconditionFailed
	case ErrValidation:
		return e.StatusCode == http.StatusBadRequest && len(e.Message.ValidationErrors) > 0
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// As sets a **ValidationError target to the first validation error.
func (e *APIError) As(target any) bool {
	if p, ok := target.(**ValidationError); ok && len(e.Message.ValidationErrors) > 0 {
		v := e.Message.ValidationErrors[0]
		*p = &v
		return true
	}
	return false
}

// isRateLimitMessage recognises a rate limit answer in a 400 body: an
// error code like the security.rate.limit.reached id of the List Item Bulk
// page, or a message in the words of that page ("Too many requests") or of
// the HTTP Status Codes page ("exceed the request limit"). A body with
// validation errors is about the data, never a rate limit.
func isRateLimitMessage(m ErrorMessage) bool {
	if len(m.ValidationErrors) > 0 {
		return false
	}
	code := strings.ToLower(m.Code())
	for _, marker := range [...]string{"rate.limit", "ratelimit", "rate_limit", "toomanyrequests", "too_many_requests"} {
		if strings.Contains(code, marker) {
			return true
		}
	}
	text := strings.ToLower(m.Text())
	for _, marker := range [...]string{"too many requests", "rate limit", "exceed the request limit", "exceeded the request limit", "request limit exceeded", "request limit reached"} {
		if strings.Contains(text, marker) {
			return true
		}
	}
	return false
}

// IsRetryable reports whether sending the same request again may succeed:
// rate limits, 5xx answers, token endpoint 5xx answers and connection-level
// failures (resets, refused connections, timed-out HTTP requests, bodies
// cut short). Cancellation of the caller's context, or its expiry outside
// an HTTP request, is not retryable, nor is any other 4xx answer.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if isClientTimeout(err) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrRateLimited) || errors.Is(err, ErrServer) {
		return true
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return false
	}
	var authErr *AuthError
	if errors.As(err, &authErr) {
		return authErr.StatusCode >= 500
	}
	// *url.Error (every http.Client failure) implements net.Error whatever
	// its cause: judge the cause.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err != nil && IsRetryable(urlErr.Err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// isClientTimeout reports whether err is an HTTP request that timed out in
// the transport. An http.Client's own Timeout surfaces sometimes as a
// timeout error, sometimes as a *url.Error holding context.DeadlineExceeded
// itself, so it cannot be told from a caller's deadline; callers end their
// retry loops on their context anyway, so a request that timed out is
// retryable. Cancellation is not.
func isClientTimeout(err error) bool {
	var urlErr *url.Error
	return errors.As(err, &urlErr) && urlErr.Timeout() && !errors.Is(err, context.Canceled)
}

// RetryAfter returns the Retry-After delay carried by err, or 0.
func RetryAfter(err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.RetryAfter
	}
	return 0
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// newAPIError builds an *APIError from a non-success response, reading at
// most maxErrorBody bytes of its body.
func newAPIError(resp *http.Response, now time.Time) *APIError {
	e := &APIError{
		StatusCode:    resp.StatusCode,
		CorrelationID: resp.Header.Get("Concur-Correlationid"),
		RetryAfter:    parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	if resp.Request != nil && resp.Request.URL != nil {
		e.Method, e.Path = resp.Request.Method, resp.Request.URL.Path
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = json.Unmarshal(body, &e.Message) // a non-JSON body leaves Message zero
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date; invalid or past
// values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
