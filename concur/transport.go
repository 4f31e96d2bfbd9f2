package concur

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

// contextTokenSource is a token source that honours a context.
type contextTokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// unauthorizedRefresher is a token source that can replace an access token
// the API refused with 401.
type unauthorizedRefresher interface {
	RefreshAfterUnauthorized(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error)
}

// tokenContext gets a token from ts, with ctx when ts supports it.
func tokenContext(ctx context.Context, ts oauth2.TokenSource) (*oauth2.Token, error) {
	if cts, ok := ts.(contextTokenSource); ok {
		return cts.TokenContext(ctx)
	}
	return ts.Token()
}

// Transport is an http.RoundTripper that authorises every request with a
// bearer token from Source. When the answer is 401 and Source is a
// *TokenSource (or any source with RefreshAfterUnauthorized), it forces one
// token refresh and replays the request once, body included; a second 401
// is returned as is. Request bodies without GetBody are buffered in memory
// so that they can be replayed.
type Transport struct {
	// Source gives the access tokens, required.
	Source oauth2.TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tok, err := tokenContext(ctx, t.Source)
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("getting access token: %w", err)
	}
	refresher, canRetry := t.Source.(unauthorizedRefresher)
	getBody := req.GetBody
	if canRetry && req.Body != nil && req.Body != http.NoBody && getBody == nil {
		data, err := io.ReadAll(req.Body)
		closeBody(req)
		if err != nil {
			return nil, fmt.Errorf("buffering request body: %w", err)
		}
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		if req, err = withBody(req, getBody); err != nil {
			return nil, err
		}
	}
	first := req.Clone(ctx)
	tok.SetAuthHeader(first)
	resp, err := t.base().RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !canRetry {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && getBody == nil {
		return resp, nil // cannot replay
	}
	fresh, err := refresher.RefreshAfterUnauthorized(ctx, tok)
	if err != nil {
		drain(resp)
		return nil, fmt.Errorf("refreshing access token after 401: %w", err)
	}
	second, err := withBody(req, getBody)
	if err != nil {
		drain(resp)
		return nil, err
	}
	drain(resp)
	fresh.SetAuthHeader(second)
	return t.base().RoundTrip(second)
}

// withBody clones req with a fresh body from getBody (when req has a body).
func withBody(req *http.Request, getBody func() (io.ReadCloser, error)) (*http.Request, error) {
	out := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return out, nil
	}
	body, err := getBody()
	if err != nil {
		return nil, fmt.Errorf("replaying request body: %w", err)
	}
	out.Body, out.GetBody = body, getBody
	return out, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// drain reads a little of the body (so the connection can be reused) and
// closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
}
